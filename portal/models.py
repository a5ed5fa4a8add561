"""Imports every model module, so the metadata is complete (Alembic, ``alembic check``, tests)."""

from __future__ import annotations

import importlib
import importlib.util

from portal.config import DOMAINS

CORE_MODEL_MODULES = ("portal.accounts.models", "portal.audit", "portal.workflow", "portal.search.models")


def import_all_models() -> None:
    for module in CORE_MODEL_MODULES:
        importlib.import_module(module)
    for domain in DOMAINS:
        if importlib.util.find_spec(domain) is not None and importlib.util.find_spec(f"{domain}.models") is not None:
            importlib.import_module(f"{domain}.models")
