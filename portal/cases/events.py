"""Events the case domain announces, for other domains to follow (``config.add_subscriber``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class CaseCreated:
    """A new case was stored through the API (not a replay, never a generated demo case).

    ``record`` is the validated :class:`~portal.cases.schemas.CaseRecord`.
    """

    request: Any
    case: Any
    record: Mapping[str, Any]
