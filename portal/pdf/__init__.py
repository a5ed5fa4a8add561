"""PDF rendering behind an interface (WeasyPrint in production, a double in tests of callers).

Bulletins and other printable documents render a Jinja2 template to HTML and hand it here.
"""

from __future__ import annotations

from typing import Any

from portal.pdf.interfaces import IPdfRenderer
from portal.pdf.weasy import WeasyPrintRenderer


def includeme(config: Any) -> None:
    renderer = WeasyPrintRenderer()
    config.register_service(renderer, IPdfRenderer)


__all__ = ["IPdfRenderer", "WeasyPrintRenderer"]
