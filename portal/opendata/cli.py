"""``portal opendata build``: the nightly files for a CDN, byte for byte what the live routes send."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from webob import Request


def _get(app: Any, path: str, base_url: str, environ: dict[str, Any] | None, **headers: str) -> Any:
    request = Request.blank(path, base_url=base_url, environ=dict(environ or {}), headers=headers)
    return request.call_application(app, catch_exc_info=False)


def build_files(app: Any, out: Path, base_url: str, *, gzip: bool = True, environ: dict[str, Any] | None = None,
                progress: Callable[[str, int], None] | None = None) -> list[Path]:
    """Fetch every export (and the two catalogues) through the application itself, as a client of
    the live routes would, and write them under ``out``: the files cannot differ from the routes.
    Each file is written under a temporary name and renamed, so a CDN never serves half a file."""
    from portal.opendata.registry import datasets_of

    out.mkdir(parents=True, exist_ok=True)
    targets = ["/opendata/datapackage.json", "/opendata/catalog.jsonld"]
    for dataset in datasets_of(app.registry):
        targets += [f"/opendata/{dataset.name}.{fmt}" for fmt in dataset.formats]
    written = []
    for path in targets:
        variants: list[tuple[str, dict[str, str]]] = [("", {})]
        if gzip and not path.endswith((".json", ".jsonld")):
            variants.append((".gz", {"Accept-Encoding": "gzip"}))
        for suffix, headers in variants:
            status, _response_headers, body = _get(app, path, base_url, environ, **headers)
            if not status.startswith("200"):
                raise click.ClickException(f"{path}: {status}")
            target = out / (path.rsplit("/", 1)[1] + suffix)
            written.append(_write(target, body))
            if progress is not None:
                progress(target.name, target.stat().st_size)
    return written


def _write(target: Path, body: Iterator[bytes]) -> Path:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            for chunk in body:
                handle.write(chunk)
    finally:
        if hasattr(body, "close"):
            body.close()
    temporary.replace(target)
    return target


@click.group("opendata")
def opendata_group() -> None:
    """开放数据：批量文件。"""


@opendata_group.command("build")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the files (default <var>/opendata).")
@click.option("--base-url", default="http://127.0.0.1:6543", show_default=True,
              help="The portal's public address, used in the catalogues' links.")
@click.option("--gzip/--no-gzip", default=True, show_default=True, help="Also write .gz copies.")
@click.pass_obj
def build(env: Any, out: Path | None, base_url: str, gzip: bool) -> None:
    """Write every dataset's CSV / JSON Lines / GeoJSON, datapackage.json and catalog.jsonld, byte
    for byte as the live routes send them (run it nightly and let a CDN serve the directory)."""
    from portal.config import configure

    app = configure(dict(env.settings)).make_wsgi_app()
    target = out or Path(env.settings["portal.var_dir"]) / "opendata"
    started = time.perf_counter()
    files = build_files(app, target, base_url.rstrip("/"), gzip=gzip,
                        progress=lambda name, size: click.echo(f"  {name}  {size:,} 字节"))
    click.echo(f"已写入 {len(files)} 个文件到 {target}，用时 {time.perf_counter() - started:.1f} 秒。")


def register(group: click.Group) -> None:
    group.add_command(opendata_group)
