"""``portal backup [FILE]``, ``portal backup --verify FILE`` and ``portal restore FILE``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from portal.cli import PortalEnv, pass_env


def _default_target(env: PortalEnv) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(env.settings["portal.var_dir"]) / "backups" / f"portal-{stamp}.zip"


@click.command("backup")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verify", "verify", is_flag=True,
              help="Check an existing backup (every table's rows and hash, every file) instead of writing one.")
@pass_env
def backup(env: PortalEnv, path: Path | None, verify: bool) -> None:
    """Write a consistent backup of the database and the data files (default: <var>/backups/)."""
    from portal.backup import BackupError, verify_backup, write_backup
    from portal.db import get_engine
    from portal.migrate import head_revision

    started = time.perf_counter()
    try:
        if verify:
            if path is None:
                raise click.UsageError("--verify 需要备份文件路径。")
            manifest = verify_backup(path)
            click.echo(f"备份完好：{sum(manifest.row_counts.values())} 行、{len(manifest.files)} 个文件，"
                       f"结构版本 {manifest.revision}，内容校验值 {manifest.content_hash}")
            return
        target = path or _default_target(env)
        engine = get_engine(env.settings)
        try:
            manifest = write_backup(engine, Path(env.settings["portal.var_dir"]), target,
                                    head=head_revision(env.settings))
        finally:
            engine.dispose()
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"备份已写入 {target}：{len(manifest.tables)} 张表 {sum(manifest.row_counts.values())} 行、"
               f"{len(manifest.files)} 个文件，用时 {time.perf_counter() - started:.1f} 秒；"
               f"内容校验值 {manifest.content_hash}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a database that is not empty.")
@pass_env
def restore(env: PortalEnv, path: Path, force: bool) -> None:
    """Restore a backup into this configuration's database and var directory, then rebuild the index.

    Stop the servers first: they would keep serving their cached catalogue and index."""
    from portal.backup import BackupError, restore_backup
    from portal.db import get_engine

    started = time.perf_counter()
    engine = get_engine(env.settings)
    try:
        result = restore_backup(engine, env.settings, path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    if result.migrated:
        click.echo(f"空数据库已迁移到结构版本 {result.manifest.revision}。")
    click.echo(f"已恢复 {result.rows} 行、{result.files} 个文件"
               + (f"（删除了原有的 {result.removed_files} 个文件）" if result.removed_files else "")
               + f"，内容校验值 {result.manifest.content_hash} 一致；用时 {time.perf_counter() - started:.1f} 秒。")
    # The index described the database that was replaced: rebuild it from the restored one.
    started = time.perf_counter()
    written = env.projection.rebuild()
    click.echo(f"搜索索引已重建：{written} 个文档，用时 {time.perf_counter() - started:.1f} 秒。")


def register(group: click.Group) -> None:
    group.add_command(backup)
    group.add_command(restore)
