"""Metrics of the judged-query evaluation, on hand-made rankings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from portal.search.evaluation import EvalFileError, evaluate, format_report, read_judgments, score_ranking
from portal.search.interfaces import SearchHit, SearchResults

REL = {("a.md", 1): 2, ("a.md", 2): 1, ("b.md", 5): 1}


def test_perfect_ranking():
    m = score_ranking([("a.md", 1), ("a.md", 2), ("b.md", 5)], REL)
    assert m == {"mrr": 1.0, "ndcg": pytest.approx(1.0), "recall": 1.0}


def test_duplicates_count_once_at_their_first_rank():
    ranked = [None, ("a.md", 2), ("a.md", 2), ("a.md", 1)]
    m = score_ranking(ranked, REL)
    assert m["mrr"] == 0.5
    dcg = 1 / math.log2(3) + 2 / math.log2(5)  # ranks 2 and 4: the duplicate keeps no slot of its own
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx(dcg / idcg)
    assert m["recall"] == pytest.approx(2 / 3)


def test_only_top_k_counts():
    ranked = [None] * 10 + [("a.md", 1)]
    assert score_ranking(ranked, REL) == {"mrr": 0.0, "ndcg": 0.0, "recall": 0.0}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_judgments(tmp_path: Path):
    path = write(tmp_path, "qid\tquery\tkind\trelevant\n"
                           "dev-01\t井盖丢了\tsynonym\ta.md#23:2;b.md#31:1\n\n"
                           "dev-02\t道路第27条\tcitation\ta.md#27:2\n")
    judged = read_judgments(path)
    assert [j.qid for j in judged] == ["dev-01", "dev-02"]
    assert judged[0].relevant == {("a.md", 23): 2, ("b.md", 31): 1}


@pytest.mark.parametrize("body, line", [
    ("qid\tquery\n", 1),
    ("qid\tquery\tkind\trelevant\ndev-01\t井盖\tkeyword\ta.md-23-2\n", 2),
    ("qid\tquery\tkind\trelevant\ndev-01\t井盖\n", 2),
])
def test_malformed_files_name_the_line(tmp_path: Path, body: str, line: int):
    with pytest.raises(EvalFileError, match=rf"q.tsv:{line}:"):
        read_judgments(write(tmp_path, body))


class FakeService:
    """Answers every query with a fixed list of (regulation id, article number)."""

    def __init__(self, answers):
        self.answers = answers

    def search(self, query):
        hits = [SearchHit(doc_type="article", doc_id=f"{r}-{n}", title="", url="", score=1.0, snippet="",
                          regulation_id=r, article_number=n) for r, n in self.answers[query.text]]
        return SearchResults(query=query, total=len(hits), hits=hits, facets={})


def test_evaluate_maps_files_through_the_resolver(tmp_path: Path):
    path = write(tmp_path, "qid\tquery\tkind\trelevant\n"
                           "q1\t井盖\tkeyword\ta.md#1:2;b.md#5:1\n"
                           "q2\t摆摊\tquestion\tb.md#5:2;c.md#1:1\n")
    service = FakeService({"井盖": [(10, 1), (20, 5)], "摆摊": [(10, 1), (20, 5)]})
    report = evaluate(service, read_judgments(path), {"a.md": 10, "b.md": 20}.get)
    assert report["per_query"][0]["mrr"] == 1.0 and report["per_query"][0]["recall"] == 1.0
    assert report["per_query"][1]["mrr"] == 0.5 and report["per_query"][1]["recall"] == 0.5
    assert report["overall"]["mrr"] == pytest.approx(0.75)
    assert report["by_kind"]["question"]["count"] == 1
    assert report["unresolved_files"] == ["c.md"]
    text = format_report(report, verbose=True)
    assert "overall" in text and "question" in text and "not imported: c.md" in text
