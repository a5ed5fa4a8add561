"""Loading ``knowledge_base/``: the reviewed content the portal ships (catalogue, district, …).

Domains register loaders with ``config.add_kb_loader(name, loader, order=…)``. ``portal load-kb``
(and ``make run``) runs them in order, each in its own transaction. A loader receives a
:class:`LoadContext` and must be idempotent: loading twice changes nothing, and never overwrites
what users edited in the portal since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

# libyaml's parser (a C extension, present in PyYAML's wheels) reads the knowledge base about ten
# times faster than the pure-Python one: the dispatch gazetteer alone took 3 s to parse.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(source: str | Path | Any) -> Any:
    """A YAML document of the knowledge base (a path, or an open text file): safe loading only."""
    if isinstance(source, (str, Path)):
        source = Path(source).read_text(encoding="utf-8")
    return yaml.load(source, Loader=_YAML_LOADER)  # a safe loader


@dataclass
class LoadContext:
    session: Session
    settings: dict[str, Any]
    registry: Any
    echo: Callable[[str], None]

    @property
    def knowledge_base(self) -> Path:
        return Path(self.settings["portal.knowledge_base"])


@dataclass(frozen=True)
class KnowledgeLoader:
    name: str
    load: Callable[[LoadContext], str | None]
    order: int


def add_kb_loader(config: Any, name: str, load: Callable[[LoadContext], str | None], order: int = 100) -> None:
    loaders: list[KnowledgeLoader] = config.registry.setdefault("portal.kb_loaders", [])
    loaders.append(KnowledgeLoader(name, load, order))
    loaders.sort(key=lambda loader: (loader.order, loader.name))


def kb_loaders(registry: Any) -> list[KnowledgeLoader]:
    return list(registry.get("portal.kb_loaders", []))


def includeme(config: Any) -> None:
    config.add_directive("add_kb_loader", add_kb_loader)
