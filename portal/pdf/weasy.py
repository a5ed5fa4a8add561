"""WeasyPrint rendering with a CJK font stack, refusing output with missing glyphs."""

from __future__ import annotations

import logging
import threading

from zope.interface import implementer

from portal.pdf.interfaces import IPdfRenderer

# Noto CJK has real bold weights (fonts-noto-cjk); WenQuanYi is a fallback without bold.
CJK_FONT_STACK = '"Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", sans-serif'
BASE_CSS = f"""
@page {{ size: A4; margin: 18mm 16mm 20mm; @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 9pt; }} }}
html {{ font-family: {CJK_FONT_STACK}; font-size: 10.5pt; line-height: 1.6; }}
"""


class MissingGlyphs(RuntimeError):
    """The document needs glyphs the installed fonts do not have."""


class _GlyphWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "notdef" in message or "glyph" in message.lower():
            self.messages.append(message)


@implementer(IPdfRenderer)
class WeasyPrintRenderer:
    # WeasyPrint's logger is process-wide; one render at a time keeps warnings attributable.
    _lock = threading.Lock()

    def render(self, html: str, base_url: str | None = None) -> bytes:
        import weasyprint

        handler = _GlyphWarnings()
        logger = logging.getLogger("weasyprint")
        with self._lock:
            logger.addHandler(handler)
            try:
                document = weasyprint.HTML(string=html, base_url=base_url)
                pdf = document.write_pdf(stylesheets=[weasyprint.CSS(string=BASE_CSS)])
            finally:
                logger.removeHandler(handler)
        if handler.messages:
            raise MissingGlyphs("; ".join(handler.messages[:3]))
        return pdf
