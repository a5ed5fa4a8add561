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

from sqlalchemy.orm import Session


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
