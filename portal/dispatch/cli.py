"""``portal eval-dispatch FILE``: the assistant's quality over a judged complaint file."""

from __future__ import annotations

import json
from typing import Any

import click

pass_env = click.pass_obj


@click.command("eval-dispatch")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--verbose", is_flag=True, help="List every complaint whose first suggestion is wrong.")
@click.option("--with-examples/--without-examples", default=False, show_default=True,
              help="Let the dispatchers' stored examples count (off: the vocabulary alone is measured).")
def eval_dispatch(path: str, as_json: bool, verbose: bool, with_examples: bool) -> None:
    """Top-1, top-3, MRR@5 and place accuracy of the dispatch assistant over FILE (TSV: id, text,
    place, gold, note; scoring as in ../shared/eval/README.md), overall and per class."""
    env = click.get_current_context().obj
    from portal.catalogue.snapshot import SnapshotCache
    from portal.dispatch.evaluation import Prediction, evaluate, read_judged
    from portal.dispatch.services import DispatchEngine
    from portal.search import analysis

    try:
        rows = read_judged(path)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None
    analysis.warm_up()
    engine = DispatchEngine.from_settings(env.settings)
    with env.registry["dbsession_factory"]() as session:
        snapshot = SnapshotCache().get(session)
        if not any(i.scheme == "gb47678" for i in snapshot.items.values()):
            raise click.ClickException("数据库中没有 GB/T 47678.5 分类：请先运行 portal init。")
        examples = engine.examples(session) if with_examples else None
        known_areas = {a.name for a in snapshot.areas.values()}

        def predict(text: str) -> Prediction:
            found = engine.classify(snapshot, text, examples)
            names: list[str] = []
            matched = ""
            if found.mention is not None:
                area = snapshot.area_by_code[found.mention.place.area_code]
                names = [a.name for a in snapshot.ancestors(area)] + [area.name]
                matched = found.mention.place.name
            return Prediction([r.code for r in found.ranked], names, matched)

        result = evaluate(rows, predict, known_areas)
    if as_json:
        click.echo(json.dumps(result if verbose else {k: v for k, v in result.items() if k != "misses"},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"{path}: {result['n']} 条")
    click.echo(f"top-1 {result['top1']:.3f}  top-3 {result['top3']:.3f}  MRR@5 {result['mrr5']:.3f}  "
               f"地点准确率 {result['place_accuracy']:.3f}（{result['place_rows']} 条含街道/社区）  "
               f"道路等地名 {result['named_place_accuracy']:.3f}（{result['named_place_rows']} 条）")
    click.echo("大类  条数  top-1  top-3  MRR@5")
    for cls, figures in result["per_class"].items():
        click.echo(f"{cls}    {figures['n']:>4}  {figures['top1']:.3f}  {figures['top3']:.3f}  {figures['mrr5']:.3f}")
    if verbose:
        for miss in result["misses"]:
            click.echo(f"  ✗ {miss['id']} 应为 {miss['gold']}，推荐 {' '.join(miss['got'][:3]) or '—'}：{miss['text']}")


def register(group: Any) -> None:
    group.add_command(eval_dispatch)
