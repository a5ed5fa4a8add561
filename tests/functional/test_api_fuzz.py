"""Standing proof: schemathesis over every operation of /api/v1/openapi.json (issue 15).

Every operation the OpenAPI document describes is fuzzed in process against the WSGI app on a
populated database (tests/functional/fuzz_world.py), with an API key holding every role so that
authenticated operations are exercised past their 401. Schemathesis' own checks hold each answer
to the document (no 5xx, documented status codes, content types and response schemas, valid
requests accepted and invalid ones refused, 405 with ``Allow`` for undeclared methods such as
TRACE); the portal's own check adds that every error under /api/ is the JSON envelope.

The CI profile is small (``PORTAL_FUZZ_EXAMPLES``, default 4 per operation and phase); ``bench/fuzz_api.py``
runs the long one and records its figures. Runs on SQLite: the bad-input corpus
(test_bad_input_corpus.py) covers both databases.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.core.failures import Failure
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.functional import fuzz_world
from tests.functional.fuzz_world import IsolatedApp, World

# The populated world and its isolating app (fixtures shared with test_bad_input_corpus.py).
catalogue_laws, world, isolated_app = fuzz_world.catalogue_laws, fuzz_world.world, fuzz_world.isolated_app

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "4"))
#: Where bench/fuzz_api.py collects the run's figures (operations, examples, failures).
STATS_FILE = os.environ.get("PORTAL_FUZZ_STATS")

#: Path placeholders of the API, and the world's ids that fill them when a case asks for real ones.
PLACEHOLDER_IDS = {
    "code": ("item_type", "agency", "area"),
    "id": ("case", "duty", "regulation", "ruling", "dispute"),
    "n": ("article",),
    "period": ("period",),
}


class ErrorEnvelopeMissing(Failure):
    """An error under /api/ that is not ``{"error": {"code", "message", "fields"}}``."""

    def __init__(self, operation: str, status: int, body: str) -> None:
        super().__init__(operation=operation, title="Error without the JSON envelope",
                         message=f"{status} answered without the error envelope: {body[:200]}")
        self.status = status

    @property
    def _unique_key(self) -> str:
        return f"{self.operation}:{self.status}"


@schemathesis.check
def error_envelope(ctx: Any, response: Any, case: Case) -> bool | None:
    if response.status_code < 400:
        return None
    try:
        error = json.loads(response.content)["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["fields"], dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ErrorEnvelopeMissing(case.operation.label, response.status_code,
                                   response.content.decode("utf-8", "replace")) from None
    return True


#: Why a request the schema allows may still be refused with 400: it names data that does not
#: exist (an unknown area code, item type, field or cursor), or breaks a rule the document states
#: in words because JSON Schema cannot (a place is an area or a lat/lon pair; case dates lie
#: between 1900 and 2100). Matched against the error's message and field messages.
STATED_REFUSALS = ("未找到", "不存在", "未知", "无法识别", "没有这些字段", "无效的游标", "日期须在 1900",
                   "不在辖区内", "请给出", "必须提供", "同时给出", "同时提供", "不能早于", "不带游标的页码")


class SchemaValidRequestRefused(Failure):
    """A schema-valid request refused with 400 for a reason the document does not state."""

    def __init__(self, operation: str, body: str) -> None:
        super().__init__(operation=operation, title="Schema-valid request refused",
                         message=f"400 for a request the schema allows, for no stated reason: {body[:300]}")
        self.body = body

    @property
    def _unique_key(self) -> str:
        return f"{self.operation}:{self.body[:80]}"


@schemathesis.check
def schema_valid_request_accepted(ctx: Any, response: Any, case: Case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    text = response.content.decode("utf-8", "replace")
    try:
        error = json.loads(text)["error"]
        said = json.dumps([error.get("message"), error.get("fields")], ensure_ascii=False)
    except (ValueError, KeyError, TypeError):
        said = text
    if not any(reason in said for reason in STATED_REFUSALS):
        raise SchemaValidRequestRefused(case.operation.label, said)
    return True


def _real_path_parameters(operation_path: str, ids: dict[str, str]) -> dict[str, str]:
    """The world's ids for an operation's placeholders: /api/v1/cases/{id} gets a real case id."""
    segments = [s for s in operation_path.split("/") if s and not s.startswith("{")]
    chosen: dict[str, str] = {}
    for name, candidates in PLACEHOLDER_IDS.items():
        if "{" + name + "}" not in operation_path:
            continue
        # The resource is named by the segment before the placeholder: …/duties/{id} is a duty.
        before = operation_path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
        kind = next((c for c in candidates if before.startswith(c.replace("_", "-")[:5])), candidates[0])
        if name == "code":
            kind = {"item-types": "item_type", "agencies": "agency", "areas": "area"}.get(before, kind)
        if name == "id" and "disputes" in segments:
            kind = "dispute"
        chosen[name] = ids[kind]
    return chosen


@pytest.fixture
def api_schema(isolated_app: IsolatedApp, world: World, database_url: str) -> Any:
    if not database_url.startswith("sqlite"):
        pytest.skip("the API fuzzing runs on SQLite; the bad-input corpus covers PostgreSQL")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", isolated_app)
    schema.config.update(headers={"Authorization": f"Bearer {world.api_key}"})
    # NUL is refused everywhere, as the document says (PostgreSQL cannot store it).
    schema.config.generation.update(max_examples=EXAMPLES, modes=["positive", "negative"], allow_x00=False)

    @schema.hook
    def flatmap_path_parameters(context: HookContext, path_parameters: dict[str, Any]) -> Any:
        # Generated ids rarely exist: half the cases aim at the world's real resources instead.
        assert context.operation is not None
        if not path_parameters:
            return st.just(path_parameters)
        real = {**path_parameters, **_real_path_parameters(context.operation.path, world.ids)}
        return st.sampled_from([path_parameters, real])

    return schema


@dataclass
class FuzzRun:
    """What one run covered and found: the figures bench/fuzz_api.py records."""

    operations: list[str] = field(default_factory=list)
    examples: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"operations": len(self.operations), "examples": self.examples,
                "failures": len(self.failures), "seconds": round(self.seconds, 1),
                "failed_operations": sorted(self.failures)}


def fuzz(schema: Any, api_key: str, examples: int) -> FuzzRun:
    """Run schemathesis' examples, coverage and fuzzing phases over every operation of ``schema``."""
    from schemathesis.core.result import Ok
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test
    from schemathesis.python._constants.orchestrator import make_constants_value_source

    run = FuzzRun()
    headers = {"Authorization": f"Bearer {api_key}"}
    started = time.perf_counter()

    def check(case: Case) -> None:
        run.examples += 1
        response = case.call(headers=headers)
        case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance],
                               additional_checks=[error_envelope, schema_valid_request_accepted])

    feedback = FeedbackSources(constants_value_source=make_constants_value_source(schema))
    # No shrinking: a failure is reported as found, which keeps a failing run as quick as a passing one.
    explicit = settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                        phases=[Phase.explicit, Phase.generate],
                        suppress_health_check=list(HealthCheck))
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            run.failures[f"schema error: {result.err()}"] = str(result.err())
            continue
        operation = result.ok()
        run.operations.append(operation.label)
        test = build_operation_test(config=schema.config, operation=operation, test_func=check,
                                    explicit_settings=explicit, given_kwargs={}, feedback=feedback)
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's failures are reported together
            # A check's failure explains itself; anything else (a crash of the harness) needs its traceback.
            run.failures[operation.label] = str(exc) if isinstance(exc, BaseExceptionGroup) else traceback.format_exc()
    run.seconds = time.perf_counter() - started
    if STATS_FILE:
        with open(STATS_FILE, "w", encoding="utf-8") as out:
            json.dump(run.summary(), out, ensure_ascii=False)
    return run


def test_every_operation_holds_to_the_openapi_document(api_schema: Any, world: World) -> None:
    run = fuzz(api_schema, world.api_key, EXAMPLES)
    assert len(run.operations) >= 50, run.operations
    report = "\n\n".join(f"== {label}\n{text[:3000]}" for label, text in run.failures.items())
    assert not run.failures, f"{len(run.failures)} of {len(run.operations)} operations failed:\n{report}"


def test_every_documented_operation_is_fuzzed(app: Any, isolated_app: IsolatedApp) -> None:
    """No operation escapes: the document lists every JSON view the API declares."""
    import webtest

    document = webtest.TestApp(isolated_app).get("/api/v1/openapi.json").json
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert len(operations) > 40
    assert ("POST", "/api/v1/cases") in operations and ("PATCH", "/api/v1/duties/{id}") in operations
