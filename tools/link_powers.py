"""Suggest the item types of each penalty power (权力事项) from the catalogue's enforcer duties.

An event (or a component) belongs to a 行政处罚 power when one of its enforcer duties — its own,
or for an event "X异常" those of component X and X's crosswalk counterpart — cites one of the
power's penalty articles (``match`` in powers.yaml, by prefix: 《…》第四十二条 matches its 项)
and the enforcer is the power's holder or one of its squadrons. The output is a suggestion for
an editor to review and copy into powers.yaml; nothing is written.

    python tools/link_powers.py            # every penalty power with its suggested item types
    python tools/link_powers.py --unmatched  # enforcer citations of events no power matches
    python tools/link_powers.py --write      # add the suggested events to each power's item_types
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.catalogue.kb import DEFAULT_KB_DIR, read_knowledge_base  # noqa: E402


def enforcer_citations(kb) -> dict[str, set[tuple[str, str]]]:
    """Item key → (enforcing agency, citation) of its own enforcer duties; squadrons count as
    their bureau. Events "X异常" answered through component X are facility faults, not
    violations: they are not suggested (the lookup still shows X's powers)."""
    parents = {a.code: a.parent_code for a in kb.agencies}
    own: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for d in kb.duties:
        if d.role == "enforcer" and d.kind == "event":
            holder = parents.get(d.agency_code) if "squadron" in tags_of(kb, d.agency_code) else d.agency_code
            for c in d.citations:
                own[d.item_key].add((holder or d.agency_code, c))
    return own


def tags_of(kb, code: str) -> tuple[str, ...]:
    return next((a.tags for a in kb.agencies if a.code == code), ())


def main() -> None:
    kb = read_knowledge_base(geometry=False)
    data = yaml.safe_load((DEFAULT_KB_DIR / "catalogue" / "powers.yaml").read_text(encoding="utf-8"))
    cites = enforcer_citations(kb)
    matched: set[str] = set()
    for power in data["powers"]:
        if power.get("category") != "行政处罚":
            continue
        prefixes = power.get("match") or []
        items = sorted(
            key for key, pairs in cites.items()
            if any(holder == power["holder"] and any(c.startswith(p) for p in prefixes) for holder, c in pairs)
        )
        matched.update(items)
        if "--write" in sys.argv:
            write_items(power["code"], items)
        elif "--unmatched" not in sys.argv:
            print(power["code"], power["name"])
            print("    item_types:", yaml.safe_dump(items, allow_unicode=True, default_flow_style=True,
                                                    width=10_000).strip())
    if "--unmatched" in sys.argv:
        for key, pairs in sorted(cites.items()):
            if key.split(":")[1] == "event" and pairs and key not in matched:
                print(key, sorted(pairs))


def write_items(code: str, events: list[str]) -> None:
    """Add the suggested events to the power's ``item_types`` line (kept: what is there)."""
    path = DEFAULT_KB_DIR / "catalogue" / "powers.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"code: {code}\n")
    line_start = text.index("    item_types:", start)
    line_end = text.index("\n", line_start)
    current = yaml.safe_load(text[line_start:line_end].strip().split(":", 1)[1]) or []
    wanted = list(dict.fromkeys([*current, *(e for e in events if e not in current)]))
    rendered = "[" + ", ".join(f'"{k}"' for k in wanted) + "]"
    path.write_text(text[:line_start] + f"    item_types: {rendered}" + text[line_end:], encoding="utf-8")


if __name__ == "__main__":
    main()
