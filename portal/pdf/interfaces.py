"""The PDF renderer contract."""

from __future__ import annotations

from zope.interface import Interface


class IPdfRenderer(Interface):
    def render(html: str, base_url: str | None = None) -> bytes:
        """Render an HTML document (with its CSS) to PDF bytes.

        Raises :class:`portal.pdf.weasy.MissingGlyphs` when the text needs glyphs no installed
        font has: such a PDF would print boxes where Chinese should be.
        """
