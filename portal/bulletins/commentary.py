"""The short automatic commentary of a bulletin (点评): headline, best and worst, biggest movers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portal.bulletins.indicators import BY_KEY, WEIGHTED


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _points(delta: float) -> str:
    return f"{'提高' if delta > 0 else '下降'}{abs(delta):.1f}个百分点"


def _change_clause(row: Mapping[str, Any], key: str, what: str) -> str:
    change = row.get(what)
    if not change or change["delta"].get(key) is None:
        return ""
    delta = change["delta"][key]
    name = "上期" if what == "mom" else "去年同期"
    return f"较{name}持平" if abs(delta) < 0.05 else f"较{name}{_points(delta)}"


def _driver(row: Mapping[str, Any], sign: int) -> str:
    """The weighted indicator that moved the score most in the direction it moved."""
    delta = row["mom"]["delta"]
    best: tuple[float, str] | None = None
    for indicator in WEIGHTED:
        change = delta.get(indicator.key)
        if change is None:
            continue
        effect = change * (1 if indicator.higher_is_better else -1) * indicator.weight * sign
        if effect > 0 and (best is None or effect > best[0]):
            best = (effect, indicator.key)
    if best is None:
        return ""
    indicator = BY_KEY[best[1]]
    change = delta[best[1]]
    return (f"，主要是{indicator.label}由{pct(row['mom']['values'][indicator.key])}"
            f"{'升' if change > 0 else '降'}至{pct(row['values'][indicator.key])}")


def _section(rows: Sequence[Mapping[str, Any]], noun: str) -> list[str]:
    ranked = [r for r in rows if r.get("rank")]
    if not ranked:
        return []
    sentences = []
    best, worst = ranked[0], ranked[-1]
    if len(ranked) > 1:
        sentences.append(f"{len(ranked)}个参与排名的{noun}中，综合得分最高的是{best['name']}（{best['score']:.1f}分，"
                         f"问题及时解决率{pct(best['values']['timely_resolution_rate'])}），最低的是{worst['name']}"
                         f"（{worst['score']:.1f}分，问题及时解决率{pct(worst['values']['timely_resolution_rate'])}）。")
    movers = [r for r in ranked if r.get("mom") and r["mom"]["delta"].get("score") is not None]
    if movers:
        up = max(movers, key=lambda r: (r["mom"]["delta"]["score"], r["code"]))
        down = min(movers, key=lambda r: (r["mom"]["delta"]["score"], r["code"]))
        if up["mom"]["delta"]["score"] > 0:
            sentences.append(f"较上期进步最大的{noun}是{up['name']}，综合得分由{up['mom']['score']:.1f}分升至"
                             f"{up['score']:.1f}分（+{up['mom']['delta']['score']:.1f}分）{_driver(up, 1)}。")
        if down["mom"]["delta"]["score"] < 0:
            sentences.append(f"退步最大的{noun}是{down['name']}，综合得分由{down['mom']['score']:.1f}分降至"
                             f"{down['score']:.1f}分（{down['mom']['delta']['score']:.1f}分）{_driver(down, -1)}，请予以重视。")
    return sentences


def commentary(data: Mapping[str, Any]) -> list[str]:
    district = data.get("district")
    if not district:
        return ["本期没有案件数据。"]
    v, c = district["values"], district["counts"]
    headline = (f"{data['period']['label']}，全区共受理城市管理问题{c['reported']}件，立案{c['accepted']}件，"
                f"不予立案{c['rejected']}件；问题及时解决率{pct(v['timely_resolution_rate'])}")
    clauses = [x for x in (_change_clause(district, "timely_resolution_rate", "mom"),
                           _change_clause(district, "timely_resolution_rate", "yoy")) if x]
    headline += ("，" + "，".join(clauses) if clauses else "") + "。"
    hours = v["avg_handling_hours"]
    detail = (f"按期处置率{pct(v['on_time_handling_rate'])}，结案率{pct(v['closure_rate'])}，按期结案率"
              f"{pct(v['on_time_closure_rate'])}，返工率{pct(v['rework_rate'])}，退单率{pct(v['bounce_rate'])}，"
              f"满意率{pct(v['satisfaction_rate'])}，平均处置时长"
              f"{'—' if hours is None else f'{hours:.1f}个工作小时'}；巡查发现占比{pct(v['patrol_share'])}。")
    return [headline, detail, *_section(data.get("streets") or (), "街道"),
            *_section(data.get("agencies") or (), "部门")]
