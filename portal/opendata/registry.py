"""The dataset registry: every domain publishes its open data with one call.

A domain describes a dataset once (name, Chinese title, schema, how to read its rows, how to tell
its version) and registers it in its ``includeme``::

    config.add_opendata_dataset(Dataset(
        name="rulings", title="专家裁定", description="…", fields=(Field("id", "integer", "裁定编号"), …),
        rows=iter_ruling_rows, stamp=rulings_stamp, frequency="irregular"))

Everything else follows from the registration: the row in ``/opendata/``, the DCAT entry, the
Frictionless resource, the streamed CSV / JSON Lines routes (and GeoJSON when ``geometry`` is
set), ETags, ``portal opendata build``. The directive exists before any domain is included
(``portal.config`` includes this module first), so the include order of domains does not matter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

#: Frictionless Table Schema types a field may have.
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "array", "object")
#: Update frequencies: code → (Chinese label, EU frequency authority code for DCAT).
FREQUENCIES: dict[str, tuple[str, str]] = {
    "continuous": ("实时更新", "CONT"),
    "daily": ("每日更新", "DAILY"),
    "monthly": ("每月更新", "MONTHLY"),
    "irregular": ("不定期更新", "IRREG"),
}
REGISTRY_KEY = "portal.opendata.datasets"


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One column: its name, Table Schema type, Chinese meaning and an optional longer note."""

    name: str
    type: str
    title: str
    description: str = ""
    #: Allowed values (Table Schema ``enum`` constraint), when the column is a code list.
    enum: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class ExportContext:
    """What a dataset's row reader gets: a session of its own, the registry, and the filter."""

    session: Session
    registry: Any
    settings: Mapping[str, Any]
    #: Only rows changed at or after this moment (``?updated_since=``); None for all of them.
    updated_since: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Stamp:
    """A dataset's version: equal stamps mean byte-identical exports (the ETag comes from it)."""

    rows: int
    last_modified: dt.datetime | None
    token: str


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    #: Rows as dicts keyed by field name, in a stable order (the primary key's), streamed.
    rows: Callable[[ExportContext], Iterator[dict[str, Any]]]
    #: The dataset's version, cheaply (counts and maxima on indexed columns).
    stamp: Callable[[Session, Any], Stamp]
    primary_key: str = "id"
    frequency: str = "irregular"
    keywords: tuple[str, ...] = ()
    #: Name of the domain that publishes it (for the page's grouping and DCAT's theme).
    theme: str = ""
    publisher: str | None = None
    #: For map layers: row → GeoJSON geometry; adds the ``.geojson`` format.
    geometry: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    #: Whether ``updated_since`` is honoured; tombstone rows then carry ``deleted = true``.
    incremental: bool = True
    #: Notes shown on the page: what is left out and why (disclosure rules).
    notes: tuple[str, ...] = ()
    order: int = 100
    #: For large tables, the exports' fast path: batches of value tuples in field order, as JSON
    #: Lines carries them (times already ISO 8601 text); ``rows`` then serves the other uses.
    batches: Callable[[ExportContext], Iterator[Sequence[tuple[Any, ...]]]] | None = None

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"dataset {self.name}: unknown frequency {self.frequency!r}")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names) or self.primary_key not in names:
            raise ValueError(f"dataset {self.name}: duplicate fields or primary key missing")

    @property
    def formats(self) -> tuple[str, ...]:
        return ("csv", "jsonl", "geojson") if self.geometry is not None else ("csv", "jsonl")

    @property
    def frequency_label(self) -> str:
        return FREQUENCIES[self.frequency][0]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def add_opendata_dataset(config: Any, dataset: Dataset) -> None:
    """Register ``dataset`` (a second registration of the same name is a configuration error)."""
    datasets: dict[str, Dataset] = config.registry.setdefault(REGISTRY_KEY, {})
    if dataset.name in datasets:
        raise ValueError(f"open-data dataset {dataset.name!r} registered twice")
    datasets[dataset.name] = dataset


def datasets_of(registry: Any) -> list[Dataset]:
    """Every registered dataset, in page order."""
    return sorted(registry.get(REGISTRY_KEY, {}).values(), key=lambda d: (d.order, d.name))


def dataset_named(registry: Any, name: str) -> Dataset | None:
    return registry.get(REGISTRY_KEY, {}).get(name)


def includeme(config: Any) -> None:
    config.add_directive("add_opendata_dataset", add_opendata_dataset)
