"""Open-data services: dataset versions, streamed exports, and the machine-readable catalogues
(DCAT JSON-LD and a Frictionless data package) built from the registered datasets."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.errors import InvalidInput, NotFound
from portal.opendata.encoding import (
    csv_batch_chunks,
    csv_chunks,
    geojson_chunks,
    jsonl_batch_chunks,
    jsonl_chunks,
)
from portal.opendata.interfaces import IOpenDataService
from portal.opendata.registry import FREQUENCIES, Dataset, ExportContext, Stamp, dataset_named, datasets_of

LICENSE = {"name": "CC-BY-4.0", "title": "知识共享署名 4.0 国际许可协议（CC BY 4.0）",
           "path": "https://creativecommons.org/licenses/by/4.0/"}
PUBLISHER = "城市管理权责知识门户"
MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/jsonl", "geojson": "application/geo+json"}
FORMAT_LABELS = {"csv": "CSV", "jsonl": "JSON Lines", "geojson": "GeoJSON"}
#: Bumped whenever the encoders change what they write: old ETags must not match new bytes.
ENCODING_VERSION = "2"  # 2: gzip at level 1 (GZIP_LEVEL), not 6


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    bom: bool = False
    updated_since: dt.datetime | None = None

    def key(self) -> str:
        since = self.updated_since.astimezone(dt.UTC).isoformat() if self.updated_since else ""
        return f"bom={int(self.bom)}&since={since}"


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    dataset: Dataset
    stamp: Stamp

    @property
    def frequency_label(self) -> str:
        return self.dataset.frequency_label

    @property
    def last_modified_iso(self) -> str:
        return _iso(self.stamp.last_modified) if self.stamp.last_modified else ""

    @property
    def last_modified_label(self) -> str:
        """In the portal's UTC+8, to the minute, as every page shows times."""
        return self.last_modified_iso[:16].replace("T", " ") if self.stamp.last_modified else ""


@implementer(IOpenDataService)
class OpenDataService:
    def __init__(self, session: Session, registry: Any) -> None:
        self.session = session
        self.registry = registry
        self.settings = registry.settings or {}

    @property
    def publisher(self) -> str:
        return self.settings.get("opendata.publisher") or PUBLISHER

    def datasets(self) -> list[Dataset]:
        return datasets_of(self.registry)

    def get(self, name: str) -> Dataset:
        dataset = dataset_named(self.registry, name)
        if dataset is None:
            raise NotFound(f"没有名为 {name} 的开放数据集。", code="dataset_not_found")
        return dataset

    def stamp(self, dataset: Dataset) -> Stamp:
        return dataset.stamp(self.session, self.registry)

    def summaries(self) -> list[DatasetSummary]:
        return [DatasetSummary(d, self.stamp(d)) for d in self.datasets()]

    def check(self, dataset: Dataset, fmt: str, options: ExportOptions) -> None:
        if fmt not in dataset.formats:
            raise NotFound(f"数据集 {dataset.name} 没有 {fmt} 格式。", code="format_not_found")
        if options.updated_since is not None and not dataset.incremental:
            raise InvalidInput(f"数据集 {dataset.name} 没有修改时间，不支持 updated_since，请下载全量。",
                               code="not_incremental", fields={"updated_since": ["该数据集不支持增量导出。"]})
        if options.bom and fmt != "csv":
            raise InvalidInput("bom 只适用于 CSV。", code="bom_not_csv", fields={"bom": ["只适用于 CSV。"]})

    def etag(self, dataset: Dataset, fmt: str, options: ExportOptions, stamp: Stamp) -> str:
        raw = f"{ENCODING_VERSION}|{dataset.name}|{fmt}|{options.key()}|{stamp.token}|{stamp.rows}"
        return hashlib.sha256(raw.encode()).hexdigest()[:40]

    def chunks(self, dataset: Dataset, fmt: str, options: ExportOptions,
               session_scope: Callable[[], Any]) -> Iterator[bytes]:
        """The export's bytes, produced while they are sent: rows are read from a session opened
        when the first chunk is asked for (the request's transaction is over by then)."""
        with session_scope() as session:
            ctx = ExportContext(session, self.registry, self.settings, options.updated_since)
            if dataset.batches is not None and fmt in ("csv", "jsonl"):
                batches = dataset.batches(ctx)
                if fmt == "csv":
                    yield from csv_batch_chunks(dataset, batches, bom=options.bom)
                else:
                    yield from jsonl_batch_chunks(dataset, batches)
                return
            rows = dataset.rows(ctx)
            if fmt == "csv":
                yield from csv_chunks(dataset, rows, bom=options.bom)
            elif fmt == "jsonl":
                yield from jsonl_chunks(dataset, rows)
            else:
                yield from geojson_chunks(dataset, rows)

    # -- machine-readable catalogues ------------------------------------------------------

    def table_schema(self, dataset: Dataset) -> dict[str, Any]:
        fields = []
        for field in dataset.fields:
            spec: dict[str, Any] = {"name": field.name, "type": field.type, "title": field.title}
            if field.description:
                spec["description"] = field.description
            if field.enum:
                spec["constraints"] = {"enum": list(field.enum)}
            fields.append(spec)
        return {"fields": fields, "primaryKey": [dataset.primary_key], "missingValues": [""]}

    def datapackage(self, url: Callable[[Dataset, str], str], home: str) -> dict[str, Any]:
        resources = []
        for dataset in self.datasets():
            resources.append({
                "name": dataset.name, "title": dataset.title, "description": dataset.description,
                "path": url(dataset, "csv"), "profile": "tabular-data-resource", "format": "csv",
                "mediatype": "text/csv", "encoding": "utf-8",
                "dialect": {"delimiter": ",", "header": True, "quoteChar": '"', "doubleQuote": True},
                "schema": self.table_schema(dataset), "licenses": [LICENSE],
            })
        return {"profile": "tabular-data-package", "name": "city-duty-portal", "title": f"{self.publisher}开放数据",
                "homepage": home, "licenses": [LICENSE], "contributors": [{"title": self.publisher, "role": "publisher"}],
                "resources": resources}

    def catalog(self, url: Callable[[Dataset, str], str], home: str, catalog_url: str,
                datapackage_url: str) -> dict[str, Any]:
        publisher = {"@type": "foaf:Agent", "foaf:name": self.publisher, "foaf:homepage": {"@id": home}}
        license_ref = {"@id": LICENSE["path"]}
        entries = []
        modified_all: list[dt.datetime] = []
        for summary in self.summaries():
            dataset, stamp = summary.dataset, summary.stamp
            entry: dict[str, Any] = {
                "@id": f"{home}#{dataset.name}", "@type": "dcat:Dataset", "dct:identifier": dataset.name,
                "dct:title": {"@value": dataset.title, "@language": "zh"},
                "dct:description": {"@value": dataset.description, "@language": "zh"},
                "dcat:keyword": [{"@value": k, "@language": "zh"} for k in dataset.keywords],
                "dct:publisher": publisher, "dct:license": license_ref,
                "dct:accrualPeriodicity": {
                    "@id": f"http://publications.europa.eu/resource/authority/frequency/{FREQUENCIES[dataset.frequency][1]}"},
                "dct:conformsTo": {"@id": f"{datapackage_url}#{dataset.name}"},
                "dcat:landingPage": {"@id": f"{home}#{dataset.name}"},
                "dcat:distribution": [{
                    "@id": url(dataset, fmt), "@type": "dcat:Distribution",
                    "dct:title": {"@value": f"{dataset.title}（{FORMAT_LABELS[fmt]}）", "@language": "zh"},
                    "dcat:accessURL": {"@id": url(dataset, fmt)}, "dcat:downloadURL": {"@id": url(dataset, fmt)},
                    "dcat:mediaType": {"@id": f"http://www.iana.org/assignments/media-types/{MEDIA_TYPES[fmt]}"},
                    "dct:format": FORMAT_LABELS[fmt], "dct:license": license_ref,
                } for fmt in dataset.formats],
            }
            if stamp.last_modified is not None:
                entry["dct:modified"] = {"@value": _iso(stamp.last_modified), "@type": "xsd:dateTime"}
                modified_all.append(stamp.last_modified)
            entries.append(entry)
        catalog: dict[str, Any] = {
            "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                         "foaf": "http://xmlns.com/foaf/0.1/", "xsd": "http://www.w3.org/2001/XMLSchema#"},
            "@id": catalog_url, "@type": "dcat:Catalog",
            "dct:title": {"@value": f"{self.publisher}开放数据目录", "@language": "zh"},
            "dct:description": {"@value": "城市管理权责清单、法规目录、公开案件等开放数据，CC BY 4.0 许可。",
                                "@language": "zh"},
            "dct:publisher": publisher, "dct:license": license_ref,
            "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/ZHO"},
            "foaf:homepage": {"@id": home}, "dcat:dataset": entries,
        }
        if modified_all:
            catalog["dct:modified"] = {"@value": _iso(max(modified_all, key=_utc)), "@type": "xsd:dateTime"}
        return catalog


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return _utc(value).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")


@contextlib.contextmanager
def reading_session(request: Any) -> Iterator[Session]:
    """A session of its own for a streamed body (tests inject theirs, which is then reused).

    On PostgreSQL the export reads one REPEATABLE READ snapshot, so a long export of a table that
    is being written is still one consistent picture."""
    injected = request.environ.get("app.dbsession")
    if injected is not None:
        yield injected
        return
    session: Session = request.registry["dbsession_factory"]()
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session
    finally:
        session.rollback()
        session.close()


def opendata_service_factory(context: Any, request: Any) -> OpenDataService:
    return OpenDataService(request.dbsession, request.registry)
