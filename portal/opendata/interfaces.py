"""Contracts of the open-data domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.opendata.registry import Dataset, Stamp
    from portal.opendata.services import DatasetSummary, ExportOptions


class IOpenDataService(Interface):
    """The registered datasets, their versions, streamed exports and machine-readable catalogues."""

    def datasets() -> list[Dataset]:
        """Every registered :class:`~portal.opendata.registry.Dataset`, in page order."""

    def get(name: str) -> Dataset:
        """A dataset by name; raises NotFound."""

    def stamp(dataset: Dataset) -> Stamp:
        """The dataset's :class:`~portal.opendata.registry.Stamp` (rows, last change, version token)."""

    def summaries() -> list[DatasetSummary]:
        """(dataset, stamp) for the catalogue page."""

    def check(dataset: Dataset, fmt: str, options: ExportOptions) -> None:
        """Raises NotFound / InvalidInput for a format or option the dataset does not offer."""

    def etag(dataset: Dataset, fmt: str, options: ExportOptions, stamp: Stamp) -> str:
        """The strong ETag of an export: equal ETags mean identical bytes."""

    def chunks(dataset: Dataset, fmt: str, options: ExportOptions,
               session_scope: Callable[[], Any]) -> Iterator[bytes]:
        """The export as an iterator of byte chunks, read from ``session_scope()``'s session."""

    def datapackage(url: Callable[[Dataset, str], str], home: str) -> dict[str, Any]:
        """The Frictionless data package (``url(dataset, fmt)`` gives a resource's address)."""

    def catalog(url: Callable[[Dataset, str], str], home: str, catalog_url: str,
                datapackage_url: str) -> dict[str, Any]:
        """The DCAT catalogue in JSON-LD."""
