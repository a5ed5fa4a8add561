"""One real PDF, read back with a real PDF reader (poppler's pdftotext / pdffonts)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from portal.pdf.weasy import WeasyPrintRenderer

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def test_chinese_text_with_bold_renders_and_extracts(tmp_path):
    html = """<html><body><h1 style="font-weight:bold">示例区城市管理考评通报</h1>
    <p>窨井盖缺失案件按时处置率 <strong>96.5%</strong>。</p></body></html>"""
    pdf = WeasyPrintRenderer().render(html)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "示例区城市管理考评通报" in text
    assert "窨井盖缺失案件按时处置率" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    # A real bold face was embedded, not a synthesised one from a font without bold.
    assert "Bold" in fonts and "CJK" in fonts
