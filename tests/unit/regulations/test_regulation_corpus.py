"""Every file of the shared law corpus parses with the article count of its manifest.

The corpus is read where it lies (never copied into the repository); the test is
skipped on a machine without it.  ``PORTAL_LAW_CORPUS`` points elsewhere.
"""

import os
from pathlib import Path

import pytest

from portal.regulations.manifest import read_manifest
from portal.regulations.parsing import parse_regulation_file

CORPUS = Path(
    os.environ.get("PORTAL_LAW_CORPUS")
    or Path(__file__).resolve().parents[4] / "shared" / "corpus" / "laws"
)

pytestmark = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(), reason=f"law corpus not found at {CORPUS}"
)


def _entries():
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    return sorted(read_manifest(CORPUS / "MANIFEST.tsv").values(), key=lambda e: e.file)


def test_manifest_lists_every_text_file():
    listed = {entry.file for entry in _entries()}
    on_disk = {path.name for path in CORPUS.glob("*.md")}
    assert listed == on_disk


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry.file)
def test_corpus_file_parses_with_manifest_article_count(entry):
    regulation = parse_regulation_file(CORPUS / entry.file)
    assert len(regulation.articles) == entry.article_count
    assert regulation.title == entry.title
    assert regulation.history, "header lines give at least one dated event"
    numbers = [article.key for article in regulation.articles]
    assert numbers == sorted(set(numbers))
    assert all(article.paragraphs for article in regulation.articles)
