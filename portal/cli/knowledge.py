"""``portal load-kb``, ``portal reindex``, ``portal index``, ``portal eval-search``."""

from __future__ import annotations

import time

import click

from portal.cli import PortalEnv, pass_env, progressbar


@click.command("load-kb")
@click.option("--only", multiple=True, help="Run only these loaders (by name).")
@pass_env
def load_kb(env: PortalEnv, only: tuple[str, ...]) -> None:
    """Load knowledge_base/ (and the regulation sources it points to) into the database."""
    from portal.knowledge import LoadContext, kb_loaders

    loaders = [loader for loader in kb_loaders(env.registry) if not only or loader.name in only]
    if not loaders:
        click.echo("没有可运行的知识库加载器。")
    for loader in loaders:
        started = time.perf_counter()
        with env.session(actor_name=f"load-kb:{loader.name}") as session:
            # Bulk loads index once at the end instead of after every commit.
            session.info["defer_search"] = True
            summary = loader.load(LoadContext(session=session, settings=env.settings, registry=env.registry,
                                              echo=click.echo))
        click.echo(f"[{loader.name}] {summary or '完成'}（{time.perf_counter() - started:.1f} 秒）")
    started = time.perf_counter()
    outcome = env.projection.bring_up_to_date()
    click.echo(f"搜索索引：{outcome}（{time.perf_counter() - started:.1f} 秒）")


@click.command("reindex")
@pass_env
def reindex(env: PortalEnv) -> None:
    """Rebuild the search index from the database alone."""
    projection = env.projection
    with env.registry["dbsession_factory"]() as session:
        total = projection.count_documents(session)
    started = time.perf_counter()
    with progressbar(total, "重建索引") as bar:
        written = projection.rebuild(progress=lambda n: bar.update(n - bar.pos))
    click.echo(f"索引已重建：{written} 个文档，用时 {time.perf_counter() - started:.1f} 秒。")


@click.command("index")
@click.option("--repair", is_flag=True, help="Rebuild when unusable, otherwise catch up.")
@pass_env
def index_status(env: PortalEnv, repair: bool) -> None:
    """Show the search index's health; with --repair, make it usable."""
    projection = env.projection
    if repair:
        removed = projection.service.remove_partial_generations()
        if removed:
            click.echo(f"已删除中断的重建留下的目录：{'、'.join(removed)}")
        click.echo(f"搜索索引：{projection.bring_up_to_date()}")
    health = projection.health()
    click.echo(f"搜索索引：{'可用' if health.get('ok') else '不可用'}，{health.get('documents', 0)} 个文档")


@click.command("eval-search")
@click.argument("judgments", type=click.Path(exists=True, dir_okay=False))
@click.option("--verbose", is_flag=True, help="One line per query.")
@click.option("--json", "as_json", is_flag=True, help="The full report as JSON.")
@pass_env
def eval_search(env: PortalEnv, judgments: str, verbose: bool, as_json: bool) -> None:
    """MRR@10, nDCG@10 and recall@10 over a judged query file (format of shared/eval)."""
    import json

    from portal.regulations.services import RegulationService
    from portal.search.evaluation import evaluate_file, format_report
    from portal.search.interfaces import ISearchService

    service = env.registry.getUtility(ISearchService)
    with env.registry["dbsession_factory"]() as session:
        # Judgments name corpus files; the library knows which regulation each file became.
        files = RegulationService(session).source_files()
    if not files:
        raise click.ClickException("法规库中没有来自法规目录的文本：先运行 portal load-kb。")
    report = evaluate_file(service, judgments, files)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str) if as_json
               else format_report(report, verbose=verbose))


def register(group: click.Group) -> None:
    group.add_command(load_kb)
    group.add_command(reindex)
    group.add_command(index_status)
    group.add_command(eval_search)
