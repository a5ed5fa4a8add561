"""Contracts of the open-data domain."""

from __future__ import annotations

from zope.interface import Interface


class IOpenDataService(Interface):
    """The registered datasets, their versions, streamed exports and machine-readable catalogues."""

    def datasets():
        """Every registered :class:`~portal.opendata.registry.Dataset`, in page order."""

    def get(name):
        """A dataset by name; raises NotFound."""

    def stamp(dataset):
        """The dataset's :class:`~portal.opendata.registry.Stamp` (rows, last change, version token)."""

    def summaries():
        """(dataset, stamp) for the catalogue page."""

    def check(dataset, fmt, options):
        """Raises NotFound / InvalidInput for a format or option the dataset does not offer."""

    def etag(dataset, fmt, options, stamp):
        """The strong ETag of an export: equal ETags mean identical bytes."""

    def chunks(dataset, fmt, options, session_scope):
        """The export as an iterator of byte chunks, read from ``session_scope()``'s session."""

    def datapackage(url, home):
        """The Frictionless data package (``url(dataset, fmt)`` gives a resource's address)."""

    def catalog(url, home, catalog_url, datapackage_url):
        """The DCAT catalogue in JSON-LD."""
