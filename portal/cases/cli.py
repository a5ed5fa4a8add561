"""``portal import-cases FILE`` and ``portal demo-data --cases N --seed S``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

# ``portal.cli`` imports this module while it registers commands; importing it back at module
# level would be circular, so the environment arrives as the click context object.

MAX_ERRORS_SHOWN = 50


def _progressbar(length: int | None, label: str):  # type: ignore[no-untyped-def]
    from portal.cli import progressbar

    return progressbar(length, label)


def _places(env):  # type: ignore[no-untyped-def]
    from portal.cases.places import Places

    return lambda session: Places.of(session, env.registry)


@click.command("import-cases")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", default=2000, show_default=True, help="Rows per transaction.")
@click.option("--workers", default=None, type=click.IntRange(0, 16),
              help="Processes that validate and plan rows while one writes (SQLite; default: CPU count, 0 = none).")
@click.pass_obj
def import_cases(env, path: Path, batch_size: int, workers: int | None) -> None:  # type: ignore[no-untyped-def]
    """Import cases from CSV or JSON Lines (resumable: stored cases are skipped)."""
    import os

    from portal.audit import record
    from portal.cases.importer import (
        BulkImporter,
        ImportStats,
        batched,
        count_lines,
        parallel_import,
        read_raw_rows,
        read_rows,
    )

    if path.suffix.lower() not in {".csv", ".jsonl", ".ndjson", ".json"}:
        raise click.ClickException("只支持 .csv 与 .jsonl（JSON Lines）文件。")
    total = count_lines(path)
    stats = ImportStats()
    started = time.perf_counter()
    importer = None
    url = env.settings["sqlalchemy.url"]
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    with _progressbar(total, f"导入 {path.name}") as bar:
        if url.startswith("sqlite") and workers > 0 and total > batch_size:
            with env.session(actor_name="import-cases") as session:
                places = _places(env)(session)
            parallel_import(url, read_raw_rows(path), lambda: env.session(actor_name="import-cases"), places, stats,
                            workers=workers, batch_size=batch_size, progress=bar.update)
        else:
            for batch in batched(read_rows(path), batch_size):
                with env.session(actor_name="import-cases") as session:
                    if importer is None:
                        importer = BulkImporter(_places(env)(session), source="import")
                    importer.import_batch(session, batch, stats)
                bar.update(len(batch))
    with env.session(actor_name="import-cases") as session:
        record(session, "cases.import", "cases", path.name,
               after={"read": stats.read, "created": stats.created, "skipped": stats.skipped,
                      "updated": stats.updated, "errors": len(stats.errors)})
    elapsed = time.perf_counter() - started
    for error in stats.errors[:MAX_ERRORS_SHOWN]:
        click.echo(str(error), err=True)
    if len(stats.errors) > MAX_ERRORS_SHOWN:
        click.echo(f"……另有 {len(stats.errors) - MAX_ERRORS_SHOWN} 行错误未列出。", err=True)
    rate = stats.created / elapsed if elapsed > 0 else 0.0
    click.echo(f"{stats.summary()}；用时 {elapsed:.1f} 秒（{rate:,.0f} 件/秒）。")
    if stats.errors:
        raise SystemExit(1)


@click.command("demo-data")
@click.option("--cases", "count", default=20_000, show_default=True, help="How many cases to generate.")
@click.option("--seed", default=20260701, show_default=True, help="Same seed, same cases.")
@click.option("--end", "end", default=None, help="Last day with reports (YYYY-MM-DD; default today).")
@click.pass_obj
def demo_data(env, count: int, seed: int, end: str | None) -> None:  # type: ignore[no-untyped-def]
    """Generate deterministic demo cases for the demo district (skips those already stored)."""
    from portal.cases.loader import load_demo_cases, sample_tracking_codes

    last_day = dt.date.fromisoformat(end) if end else None
    started = time.perf_counter()
    with _progressbar(count, "生成演示案件") as bar:
        stats = load_demo_cases(lambda: env.session(actor_name="demo-data"), _places(env), count, seed,
                                end=last_day, settings=env.settings, progress=bar.update)
    elapsed = time.perf_counter() - started
    click.echo(f"{stats.summary()}；用时 {elapsed:.1f} 秒。")
    with env.session(actor_name="demo-data") as session:
        samples = sample_tracking_codes(session, seed)
    click.echo("可评价的示例查询码（/track）：" + ("、".join(samples) or "无"))
    for error in stats.errors[:MAX_ERRORS_SHOWN]:
        click.echo(str(error), err=True)


def register(group: click.Group) -> None:
    group.add_command(import_cases)
    group.add_command(demo_data)
