"""Registering a dataset is one call, and a mistaken registration fails at start-up."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator

from portal.opendata.registry import Dataset, Field, Stamp, datasets_of


def sample(name: str = "rulings", **overrides) -> Dataset:
    values = {"name": name, "title": "专家裁定", "description": "裁定", "fields": (Field("id", "integer", "编号"),),
              "rows": lambda ctx: iter(()), "stamp": lambda session, registry: Stamp(0, None, "")}
    values.update(overrides)
    return Dataset(**values)


def test_a_domain_adds_its_dataset_with_one_call():
    config = Configurator()
    config.include("portal.opendata.registry")
    config.add_opendata_dataset(sample(order=5))
    config.add_opendata_dataset(sample("bulletin-indicators", order=1))
    assert [d.name for d in datasets_of(config.registry)] == ["bulletin-indicators", "rulings"]
    with pytest.raises(ValueError, match="registered twice"):
        config.add_opendata_dataset(sample())


@pytest.mark.parametrize("overrides", [
    {"fields": (Field("id", "integer", "编号"), Field("id", "string", "重复"))},
    {"primary_key": "code"},
    {"frequency": "hourly"},
])
def test_inconsistent_definitions_are_refused(overrides):
    with pytest.raises(ValueError):
        sample(**overrides)


def test_unknown_field_types_are_refused():
    with pytest.raises(ValueError):
        Field("id", "uuid", "编号")


def test_geometry_adds_geojson():
    assert sample().formats == ("csv", "jsonl")
    assert sample(geometry=lambda row: None).formats == ("csv", "jsonl", "geojson")
