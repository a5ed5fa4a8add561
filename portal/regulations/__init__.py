"""Regulations library: statutes (法规), their versions and articles (条/款/项).

Parsing of statute texts, the sidecar manifest and the national-law pack live in
:mod:`~portal.regulations.parsing`, :mod:`~portal.regulations.manifest` and
:mod:`~portal.regulations.lawpack`; they need no database.
"""

from typing import Any


def includeme(config: Any) -> None:
    """Routes, services and loaders of the regulations library (filled in as they land)."""
