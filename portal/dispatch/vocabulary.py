"""The dispatch vocabulary: how people describe each item type (``knowledge_base/dispatch/vocabulary.yaml``).

Reviewed content, like the search synonyms: per five-digit code, the everyday ``names`` of the
thing or problem, typical ``cues`` (verbs, states, context) and ``unlike`` words that point to a
close neighbour instead. Classes may share cues (every facility of classes 01–05 can be 坏了).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portal.knowledge import read_yaml
from portal.search import analysis

ROLES = ("names", "cues", "unlike")


@dataclasses.dataclass(frozen=True)
class VocabularyEntry:
    code: str
    names: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    unlike: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ClassCues:
    name: str
    major_codes: frozenset[str]
    cues: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    items: Mapping[str, VocabularyEntry]
    classes: tuple[ClassCues, ...] = ()
    #: four-digit components without a five-digit counterpart
    legacy: Mapping[str, VocabularyEntry] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> Vocabulary:
        """Read the YAML file; a missing file gives an empty vocabulary (names alone still rank)."""
        if path is None or not Path(path).exists():
            return cls({})
        data = read_yaml(path) or {}
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Vocabulary:
        def entries(section: Mapping[str, Any] | None) -> dict[str, VocabularyEntry]:
            out = {}
            for code, spec in (section or {}).items():
                spec = spec or {}
                unknown = set(spec) - set(ROLES)
                if unknown:
                    raise ValueError(f"vocabulary entry {code}: unknown keys {sorted(unknown)}")
                out[str(code)] = VocabularyEntry(str(code), *(_words(spec.get(role)) for role in ROLES))
            return out

        classes = tuple(
            ClassCues(name, frozenset(str(c) for c in spec.get("codes") or ()), _words(spec.get("cues")))
            for name, spec in (data.get("classes") or {}).items()
        )
        return cls(entries(data.get("items")), classes, entries(data.get("gbt30428")))

    def all_words(self) -> set[str]:
        """Every word of the vocabulary (taught to the segmenter so it keeps them whole)."""
        words = {w for e in (*self.items.values(), *self.legacy.values()) for role in ROLES for w in getattr(e, role)}
        words |= {w for c in self.classes for w in c.cues}
        return words


def _words(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    raw = value.split() if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(analysis.normalize(w).strip() for w in raw if w.strip()))
