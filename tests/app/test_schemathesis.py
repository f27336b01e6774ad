"""Schemathesis over the server's own OpenAPI schema: generated requests, valid and invalid, to every
operation; none may get a server error, and every answer must match what the schema documents.

Bounded: a fixed number of derandomized examples per operation and mode, on a server whose context is
short (so no request generates for long), with both keys so every operation is reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.app.conftest import LiveServer

KEYS = {"api_key": "st-api", "admin_key": "st-admin"}
OPERATIONS = ["POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models", "POST /v1/load_lora_adapter",
              "POST /v1/unload_lora_adapter", "GET /v1/styles", "POST /v1/styles", "PATCH /v1/styles/{name}",
              "DELETE /v1/styles/{name}", "GET /health", "GET /metrics"]
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def target(serve, adapter_root: Path) -> Iterator[LiveServer]:
    settings_ = {**KEYS, "adapter_roots": [adapter_root],
                 "lora_modules": [{"name": "a1", "path": str(adapter_root / "a1")}]}
    with serve(settings_, {"max_model_len": 64}) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(target: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_dict(target.app.openapi())


def test_the_schema_lists_every_operation(api_schema) -> None:
    assert sorted(op.ok().label for op in api_schema.get_all_operations()) == sorted(OPERATIONS)


CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [  # invalid data needs a body to spoil
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if label.startswith(("POST", "PATCH"))]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_generated_requests_get_no_server_error(target: LiveServer, api_schema, label: str, mode) -> None:
    operation = api_schema.find_operation_by_label(label)
    headers = {"Authorization": f"Bearer {KEYS['admin_key']}"}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=target.url, headers=headers, timeout=60)
        case.validate_response(response, checks=CHECKS)

    check()
    assert target.wait_idle()["num_running"] == 0
