"""Backups: a consistent, portable snapshot of the database and the var directory's data files.

A backup is a zip archive (``FORMAT``, version ``FORMAT_VERSION``):

- ``manifest.json``: the schema revision (Alembic), the source dialect, every table in dependency
  order with its columns, row count and sha256, the **content hash** over all tables, and every data
  file with its size and sha256;
- ``tables/<table>.jsonl``: one canonical JSON array per row, rows in primary-key order, values
  normalised (datetimes in UTC ISO 8601, binary in base64, JSON columns as canonical JSON text), so
  SQLite and PostgreSQL write the same bytes for the same content;
- ``files/<path>``: the var directory's data (dispute evidence). The search index is not data: it
  is rebuilt from the database after a restore.

The content hash is computed by one function (:func:`database_content`) over a live database and
by the same row digests over an archive, so backup, ``--verify``, restore and the tests agree on
what "identical content" means, across SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

FORMAT = "city-duty-portal-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TABLES_PREFIX = "tables/"
FILES_PREFIX = "files/"
#: Folders of the var directory that hold data no other copy has. The search index, the index
#: cursor, generated open-data files and gunicorn's pid are derived or transient: not backed up.
DATA_DIRS: tuple[str, ...] = ("arbitration/evidence", "uploads")
#: Rows per INSERT batch on restore and per fetch on backup.
BATCH_ROWS = 1000
_READ_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup cannot be written, read, verified or restored; the message says why (Chinese)."""


# ----------------------------------------------------------------------------- tables and values


def backup_tables() -> list[Table]:
    """Every table of the portal's models, parents before children (foreign-key order)."""
    from portal.db import Base
    from portal.models import import_all_models

    import_all_models()
    return list(Base.metadata.sorted_tables)


def _self_references(table: Table) -> list[str]:
    """Columns that point at their own table (a parent agency, the bulletin a correction corrects)."""
    return sorted({fk.parent.name for fk in table.foreign_keys if fk.column.table is table})


def _is_json(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_, JSON)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def normalise(value: Any, type_: TypeEngine[Any]) -> Any:
    """A column value as the JSON value both backends agree on. JSON columns become canonical JSON
    text (JSON null is "null"); :func:`iter_rows` writes their SQL NULL as a bare null."""
    if _is_json(type_):
        return canonical_json(value)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        # Aware values are compared in UTC; SQLite hands naive UTC back only without AwareDateTime.
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def denormalise(value: Any, type_: TypeEngine[Any]) -> Any:
    """The value to bind on restore: the inverse of :func:`normalise` for the column's type."""
    if _is_json(type_):
        # SQL NULL stays None (the restore table binds None as NULL); JSON null is JSON.NULL.
        return None if value is None else _json_value(json.loads(value))
    if value is None:
        return None
    base = _base_type(type_)
    if isinstance(base, DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(base, Date):
        return dt.date.fromisoformat(value)
    if isinstance(base, LargeBinary):
        return base64.b64decode(value)
    if isinstance(base, Numeric) and base.asdecimal and not isinstance(base, Float):
        return decimal.Decimal(value)
    return value


def _base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def _json_value(value: Any) -> Any:
    return JSON.NULL if value is None else value


def canonical_line(row: Sequence[Any]) -> bytes:
    """One row as the bytes the archive stores and every digest hashes."""
    return canonical_json(list(row)).encode("utf-8") + b"\n"


class TableDigest:
    """sha256 over a table's columns and its canonical rows, in primary-key order."""

    def __init__(self, name: str, columns: Sequence[str]) -> None:
        self.name = name
        self.columns = list(columns)
        self.rows = 0
        self._hash = hashlib.sha256(canonical_line([name, *columns]))

    def add_line(self, line: bytes) -> None:
        self._hash.update(line)
        self.rows += 1

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def content_hash(digests: Iterable[tuple[str, str]]) -> str:
    """The content hash of a database: one sha256 over (table, table sha256), tables by name."""
    overall = hashlib.sha256()
    for name, sha256 in sorted(digests):
        overall.update(f"{name}:{sha256}\n".encode())
    return overall.hexdigest()


def _order_by(connection: Connection, table: Table) -> list[ColumnElement[Any]]:
    keys: list[ColumnElement[Any]] = list(table.primary_key.columns) or list(table.columns)
    if connection.dialect.name == "postgresql":
        # Code-point order, as SQLite's BINARY collation and Python sort strings.
        keys = [key.collate("C") if isinstance(key.type, String) else key for key in keys]
    return keys


def iter_rows(connection: Connection, table: Table) -> Iterator[list[Any]]:
    """The table's rows as normalised values, in primary-key order, streamed."""
    columns = list(table.columns)
    json_columns = [c for c in columns if _is_json(c.type)]
    # JSON columns tell SQL NULL from JSON null: both come back from the driver as None.
    flags = [c.is_(None).label(f"__null_{c.name}") for c in json_columns]
    statement = select(*columns, *flags).order_by(*_order_by(connection, table))
    null_index = {c.name: len(columns) + i for i, c in enumerate(json_columns)}
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(statement)
    for record in result:
        yield [None if c.name in null_index and record[null_index[c.name]] else normalise(record[i], c.type)
               for i, c in enumerate(columns)]


@dataclasses.dataclass(frozen=True)
class TableSummary:
    name: str
    columns: list[str]
    rows: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class ContentSummary:
    tables: list[TableSummary]
    content_hash: str

    @property
    def row_counts(self) -> dict[str, int]:
        return {table.name: table.rows for table in self.tables}


def database_content(connection: Connection, *,
                     sink: Callable[[Table, Iterator[bytes]], None] | None = None) -> ContentSummary:
    """Digest every table readable on ``connection`` (call it inside one read transaction).

    ``sink`` receives each table's canonical lines as they are hashed (the backup writes them)."""
    summaries = []
    for table in backup_tables():
        digest = TableDigest(table.name, [c.name for c in table.columns])

        def lines(table: Table = table, digest: TableDigest = digest) -> Iterator[bytes]:
            for row in iter_rows(connection, table):
                line = canonical_line(row)
                digest.add_line(line)
                yield line

        if sink is None:
            for _line in lines():
                pass
        else:
            sink(table, lines())
        summaries.append(TableSummary(table.name, digest.columns, digest.rows, digest.sha256))
    return ContentSummary(summaries, content_hash((s.name, s.sha256) for s in summaries))



@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection inside one read-only transaction that sees a single point in time.

    SQLite (WAL): a deferred transaction's first read fixes its snapshot for all later reads while
    writers go on. PostgreSQL: REPEATABLE READ, read only, as ``pg_dump`` reads."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin() as transaction:
            yield connection
            transaction.rollback()


# ----------------------------------------------------------------------------- the manifest


@dataclasses.dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    revision: str | None
    dialect: str
    created_at: str
    tables: list[TableSummary]
    content_hash: str
    files: list[FileEntry]
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError("不是门户的备份文件（manifest 格式不符）。")
            if data.get("version") != FORMAT_VERSION:
                raise BackupError(f"备份格式版本 {data.get('version')} 不受支持（本版本读取 {FORMAT_VERSION}）。")
            return cls(
                revision=data["revision"], dialect=data["dialect"], created_at=data["created_at"],
                tables=[TableSummary(t["name"], list(t["columns"]), int(t["rows"]), t["sha256"])
                        for t in data["tables"]],
                content_hash=data["content_hash"],
                files=[FileEntry(f["path"], int(f["size"]), f["sha256"]) for f in data["files"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"备份的 manifest 无法读取：{exc}") from exc

    @property
    def row_counts(self) -> dict[str, int]:
        return {table.name: table.rows for table in self.tables}


def _table_member(name: str) -> str:
    return f"{TABLES_PREFIX}{name}.jsonl"


def _member(name: str) -> zipfile.ZipInfo:
    """A member stamped with the time of writing (streamed members otherwise say 1980)."""
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def safe_member_path(relative: str) -> PurePosixPath:
    """A data file's path inside the var directory, refused when it could land elsewhere."""
    path = PurePosixPath(relative)
    if (path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts)
            or "\\" in relative or "\x00" in relative):
        raise BackupError(f"备份中的文件路径不安全：{relative!r}")
    if not any(path.is_relative_to(folder) and path != PurePosixPath(folder) for folder in DATA_DIRS):
        raise BackupError(f"备份中的文件不在数据目录内：{relative!r}")
    return path


def data_files(var_dir: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, absolute path) of every data file under the var directory, sorted."""
    for folder in DATA_DIRS:
        root = var_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(var_dir).as_posix(), path


def _sha256_of(handle: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(_READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


# ----------------------------------------------------------------------------- backup


def schema_revision(connection: Connection) -> str | None:
    from portal.migrate import current_revision

    return current_revision(connection)


def write_backup(engine: Engine, var_dir: Path, target: Path, *, head: str | None) -> Manifest:
    """Write the database and the data files to ``target`` (atomically: a killed backup leaves
    no file under that name). The database must be at the code's schema revision ``head``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6,
                             allowZip64=True) as archive:
            with snapshot(engine) as connection:
                revision = schema_revision(connection)
                if revision != head:
                    raise BackupError(f"数据库的结构版本是 {revision or '（空）'}，代码是 {head}："
                                      "先运行 portal db upgrade。")

                def store(table: Table, lines: Iterator[bytes]) -> None:
                    with archive.open(_member(_table_member(table.name)), "w", force_zip64=True) as member:
                        for line in lines:
                            member.write(line)

                content = database_content(connection, sink=store)
            files = []
            for relative, path in data_files(var_dir):
                with open(path, "rb") as source, archive.open(_member(FILES_PREFIX + relative), "w",
                                                              force_zip64=True) as member:
                    digest = hashlib.sha256()
                    size = 0
                    while chunk := source.read(_READ_CHUNK):
                        digest.update(chunk)
                        member.write(chunk)
                        size += len(chunk)
                files.append(FileEntry(relative, size, digest.hexdigest()))
            manifest = Manifest(
                revision=revision, dialect=engine.dialect.name,
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                tables=content.tables, content_hash=content.content_hash, files=files,
            )
            archive.writestr(MANIFEST_NAME, manifest.to_json())
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


# ----------------------------------------------------------------------------- reading and verifying


def _open_archive(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupError(f"无法打开备份文件 {path}：{exc}") from exc


def read_manifest(archive: zipfile.ZipFile) -> Manifest:
    try:
        raw = archive.read(MANIFEST_NAME)
    except KeyError as exc:
        raise BackupError("备份文件缺少 manifest.json（写入被中断？）。") from exc
    return Manifest.from_json(raw)


def _table_lines(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    try:
        with archive.open(_table_member(name)) as member:
            yield from member
    except KeyError as exc:
        raise BackupError(f"备份文件缺少表 {name} 的数据。") from exc


def verify_archive(archive: zipfile.ZipFile) -> Manifest:
    """Check every table's rows and digest, the content hash and every file against the manifest."""
    manifest = read_manifest(archive)
    problems = []
    try:
        for table in manifest.tables:
            digest = TableDigest(table.name, table.columns)
            for line in _table_lines(archive, table.name):
                digest.add_line(line)
            if digest.rows != table.rows:
                problems.append(f"表 {table.name}：{digest.rows} 行，manifest 记为 {table.rows} 行")
            elif digest.sha256 != table.sha256:
                problems.append(f"表 {table.name}：内容校验值不符")
        if content_hash((t.name, t.sha256) for t in manifest.tables) != manifest.content_hash:
            problems.append("总内容校验值与各表的校验值不符")
        for entry in manifest.files:
            safe_member_path(entry.path)
            try:
                with archive.open(FILES_PREFIX + entry.path) as member:
                    size, sha256 = _sha256_of(member)
            except KeyError:
                problems.append(f"缺少文件 {entry.path}")
                continue
            if (size, sha256) != (entry.size, entry.sha256):
                problems.append(f"文件 {entry.path} 的内容校验值不符")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a CRC error or a truncated member
        problems.append(f"备份文件已损坏：{exc}")
    if problems:
        raise BackupError("备份校验失败：" + "；".join(problems))
    return manifest


def verify_backup(path: Path) -> Manifest:
    with _open_archive(path) as archive:
        return verify_archive(archive)


# ----------------------------------------------------------------------------- restore


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    rows: int
    files: int
    removed_files: int
    migrated: bool


def _restore_table(table: Table) -> Table:
    """A copy of ``table`` that writes the archive's values as they are: JSON columns bind None
    as SQL NULL (JSON null is JSON.NULL), and no ``onupdate`` stamps the second pass's updates."""
    copy = table.to_metadata(MetaData())
    for column in copy.columns:
        column.onupdate = None
        if _is_json(column.type):
            column.type = JSON(none_as_null=True)
    return copy


def _database_is_empty(connection: Connection, tables: Sequence[Table]) -> bool:
    return not any(connection.scalar(select(true()).select_from(table).limit(1)) for table in tables)


def _load_table(connection: Connection, table: Table, columns: Sequence[str], lines: Iterable[bytes]) -> int:
    """Insert the archive's rows; columns pointing at their own table are set in a second pass,
    as their targets may come later in primary-key order."""
    known = {c.name: c for c in table.columns}
    unknown = [name for name in columns if name not in known]
    if unknown or len(columns) != len(known):
        raise BackupError(f"表 {table.name} 的列与本版本不符：备份 {list(columns)}，数据库 {list(known)}")
    target = _restore_table(table)
    types = [known[name].type for name in columns]
    later = _self_references(table)
    keys = [c.name for c in table.primary_key.columns]
    patches: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    count = 0
    for line in lines:
        values = json.loads(line)
        row = {name: denormalise(value, type_) for name, value, type_ in zip(columns, values, types, strict=True)}
        if later and any(row[name] is not None for name in later):
            patches.append({**{f"k_{k}": row[k] for k in keys}, **{f"v_{n}": row[n] for n in later}})
            row.update(dict.fromkeys(later))
        batch.append(row)
        count += 1
        if len(batch) >= BATCH_ROWS:
            connection.execute(target.insert(), batch)
            batch = []
    if batch:
        connection.execute(target.insert(), batch)
    if patches:
        statement = (update(target)
                     .where(*[target.c[k] == bindparam(f"k_{k}") for k in keys])
                     .values({n: bindparam(f"v_{n}") for n in later}))
        for start in range(0, len(patches), BATCH_ROWS):
            connection.execute(statement, patches[start:start + BATCH_ROWS])
    return count


def _reset_sequences(connection: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL: the next generated id follows the restored rows (SQLite takes MAX(id) + 1)."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(_base_type(keys[0].type), Integer):
            continue
        sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:table, :column)"),
                                     {"table": table.name, "column": keys[0].name})
        if sequence is None:
            continue
        top = connection.scalar(select(func.max(keys[0])))
        connection.execute(text("SELECT setval(CAST(:sequence AS regclass), :value, :called)"),
                           {"sequence": sequence, "value": top or 1, "called": top is not None})


def _restore_files(archive: zipfile.ZipFile, manifest: Manifest, var_dir: Path, *, replace: bool) -> tuple[int, int]:
    wanted = {safe_member_path(entry.path).as_posix() for entry in manifest.files}
    removed = 0
    if replace:  # the files of the database being replaced belong to it, not to the backup
        for relative, path in list(data_files(var_dir)):
            if relative not in wanted:
                path.unlink()
                removed += 1
    for entry in manifest.files:
        destination = var_dir / safe_member_path(entry.path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.partial")
        with archive.open(FILES_PREFIX + entry.path) as member, open(partial, "wb") as out:
            shutil.copyfileobj(member, out, _READ_CHUNK)
        os.replace(partial, destination)
    return len(manifest.files), removed


def restore_backup(engine: Engine, settings: Mapping[str, Any], source: Path, *, force: bool = False) -> RestoreResult:
    """Load a verified backup into the database of ``settings`` and its files into the var dir.

    One transaction: a restore that fails half-way leaves the database as it was. An empty
    database (no schema yet) is first migrated to the backup's revision; a database at another
    revision is refused, as is one holding data unless ``force`` (which replaces that data). The
    search index is left for the caller to rebuild (the CLI does)."""
    from portal.db import writer_engine
    from portal.migrate import head_revision, upgrade

    settings = dict(settings)
    var_dir = Path(settings["portal.var_dir"])
    head = head_revision(settings)
    with _open_archive(source) as archive:
        manifest = verify_archive(archive)
        if manifest.revision != head:
            raise BackupError(f"备份的结构版本是 {manifest.revision}，本版本代码是 {head}：请用与备份同版本的门户"
                              "恢复，再运行 portal db upgrade。")
        with engine.connect() as connection:
            current = schema_revision(connection)
        migrated = False
        if current is None:
            upgrade(settings, manifest.revision or "head")
            migrated = True
        elif current != manifest.revision:
            raise BackupError(f"目标数据库的结构版本是 {current}，备份是 {manifest.revision}：先把数据库迁移到"
                              f"同一版本（portal db upgrade {manifest.revision}）。")
        tables = backup_tables()
        by_name = {table.name: table for table in tables}
        missing = [t.name for t in manifest.tables if t.name not in by_name]
        absent = [name for name in by_name if name not in {t.name for t in manifest.tables}]
        if missing or absent:
            raise BackupError(f"备份的表与本版本不符：多出 {missing}，缺少 {absent}")
        rows = 0
        with writer_engine(engine).begin() as connection:
            if not _database_is_empty(connection, tables):
                if not force:
                    raise BackupError("目标数据库已有数据：恢复会覆盖它们。确认要替换时加 --force。")
                for table in reversed(tables):
                    if later := _self_references(table):  # SQLite checks these row by row
                        connection.execute(_restore_table(table).update().values(dict.fromkeys(later)))
                    connection.execute(table.delete())
            for entry in manifest.tables:  # the manifest lists them parents first
                rows += _load_table(connection, by_name[entry.name], entry.columns,
                                    _table_lines(archive, entry.name))
            _reset_sequences(connection, tables)
            restored = database_content(connection)
            if restored.content_hash != manifest.content_hash:
                differing = [t.name for t, m in zip(restored.tables, manifest.tables, strict=False) if t.sha256 != m.sha256]
                raise BackupError(f"恢复后的内容与备份不一致（{'、'.join(differing) or '总校验值'}）：已回滚。")
        files, removed = _restore_files(archive, manifest, var_dir, replace=force)
    return RestoreResult(manifest, rows, files, removed, migrated)
