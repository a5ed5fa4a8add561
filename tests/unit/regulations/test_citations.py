"""Rendering and reading citations."""

import pytest

from portal.regulations.citations import Citation, parse_citation, render_citations, short_title


def test_render():
    assert Citation("城市道路管理条例", 23).render() == "《城市道路管理条例》第二十三条"
    assert Citation("城市道路管理条例", 23, paragraph=1).render() == "《城市道路管理条例》第二十三条第一款"
    assert (
        Citation("某条例", 10, 1, paragraph=2, item=3).render() == "《某条例》第十条之一第二款第三项"
    )
    assert str(Citation("某条例", 105)) == "《某条例》第一百零五条"
    assert Citation("某条例", 105).provision == "第一百零五条"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("《城市道路管理条例》第二十三条", Citation("城市道路管理条例", 23)),
        ("城市道路管理条例 第二十三条", Citation("城市道路管理条例", 23)),
        ("行政处罚法第63条", Citation("行政处罚法", 63)),
        ("行政处罚法第６３条", Citation("行政处罚法", 63)),
        ("《某条例》第十条之一第二款", Citation("某条例", 10, 1, 2)),
        ("《某条例》第十条第二款第（三）项", Citation("某条例", 10, 0, 2, 3)),
        ("某条例第十条第三项", Citation("某条例", 10, 0, None, 3)),
        ("《某条例》（2019年修订）第十条", Citation("某条例", 10)),
    ],
)
def test_parse(text, expected):
    assert parse_citation(text) == expected


@pytest.mark.parametrize("text", ["", "井盖", "第二十三条", "某条例第零条", "某条例第十条第零款", "某条例 第X条"])
def test_parse_rejects(text):
    assert parse_citation(text) is None


def test_round_trip():
    citation = Citation("某条例", 123, 2, 4, 5)
    assert parse_citation(citation.render()) == citation


def test_short_title():
    assert short_title("中华人民共和国行政处罚法") == "行政处罚法"
    assert short_title("《城市道路管理条例》") == "城市道路管理条例"
    assert short_title("中华人民共和国") == "中华人民共和国"


def test_citations_people_type_are_rendered_once_and_the_unreadable_named():
    rendered, unreadable = render_citations([
        "城市道路管理条例第23条", "  ", "《城市道路管理条例》第二十三条", "第九条", "道路管理很重要",
    ])
    assert rendered == ["《城市道路管理条例》第二十三条"]
    assert unreadable == ["第九条", "道路管理很重要"]
    assert render_citations(None) == ([], [])
