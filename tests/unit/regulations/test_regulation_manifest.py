"""Sidecar MANIFEST.tsv reading (synthetic manifests)."""

import datetime

import pytest

from portal.regulations.manifest import ManifestError, find_manifest, read_manifest

HEADER = "file\ttitle\tlevel\tissuing_authority\tdate\tsource_repository\tarticle_count\tversion_history_in_source\n"


def test_read_manifest(tmp_path):
    path = tmp_path / "MANIFEST.tsv"
    path.write_text(
        HEADER
        + "a.md\t某市井盖条例\t地方性法规\t某市人大常委会\t2020-05-01\tsomewhere\t12\t"
        "2010年1月2日 某市人大常委会通过；2020年5月1日 某市人大常委会修正\n"
        + "b.txt\t某办法\t\t\t\t\t\t\n",
        encoding="utf-8",
    )
    entries = read_manifest(path)
    a = entries["a.md"]
    assert a.title == "某市井盖条例"
    assert a.level == "地方性法规"
    assert a.issuing_authority == "某市人大常委会"
    assert a.date == datetime.date(2020, 5, 1)
    assert a.article_count == 12
    assert a.extra == {"source_repository": "somewhere"}
    assert [e.kind for e in a.history] == ["adopted", "amended"]
    b = entries["b.txt"]
    assert (b.level, b.date, b.article_count, b.version_history) == (None, None, None, None)
    assert b.history == []


@pytest.mark.parametrize(
    ("row", "line"),
    [
        ("a.md\tx\t\t\tnot-a-date\t\t\t\n", 2),
        ("a.md\tx\t\t\t\t\tmany\t\n", 2),
        ("\tx\t\t\t\t\t1\t\n", 2),
    ],
)
def test_bad_rows_name_the_line(tmp_path, row, line):
    path = tmp_path / "MANIFEST.tsv"
    path.write_text(HEADER + row, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}:")


def test_duplicate_and_missing_column(tmp_path):
    path = tmp_path / "MANIFEST.tsv"
    path.write_text(HEADER + "a.md\tx\t\t\t\t\t\t\n" + "a.md\ty\t\t\t\t\t\t\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert info.value.line == 3
    path.write_text("name\ttitle\nx\ty\n", encoding="utf-8")
    with pytest.raises(ManifestError):
        read_manifest(path)


def test_find_manifest(tmp_path):
    text = tmp_path / "a.md"
    text.write_text("x", encoding="utf-8")
    assert find_manifest(text) is None
    (tmp_path / "MANIFEST.tsv").write_text(HEADER, encoding="utf-8")
    assert find_manifest(text) == tmp_path / "MANIFEST.tsv"
    assert find_manifest(tmp_path) == tmp_path / "MANIFEST.tsv"
