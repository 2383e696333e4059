"""Fuzzing: schemathesis against the real server process's /openapi.json, with a user token and a job key.

Every operation gets a few generated requests (valid and invalid); the server must never answer 5xx
and every answer must match the OpenAPI description (status declared, content type, body schema).
The figures (requests, 5xx, schema violations) are printed at the end of the module (`pytest -s`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from platform_fixture import PlatformServer, start_platform_server
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from server_helpers import dataset, model

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 5  # per operation, generation mode and token kind
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
TALLY: Counter[str] = Counter()


@dataclass
class FuzzWorld:
    server: PlatformServer
    user_token: str
    job_id: str
    job_key: str


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    server = start_platform_server(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    try:
        token = server.admin_token()
        with server.client(token) as admin:
            given = dataset(admin)
            job = model(admin, datasetIds=[given["id"]])
        yield FuzzWorld(server, token, job["id"], job["apiKey"])
    finally:
        server.stop()
        server.kill()
        print(f"\nfuzzing figures: {TALLY['requests']} requests, {TALLY['5xx']} answers 5xx, "
              f"{TALLY['violations']} schema violations")


@pytest.fixture(scope="module")
def api_schema(fuzz_world: FuzzWorld) -> schemathesis.BaseSchema:
    # Logging out would revoke the token the rest of the run uses.
    return schemathesis.openapi.from_url(f"{fuzz_world.server.url}/openapi.json").exclude(path="/api/auth/logout")


def _fuzz(schema: schemathesis.BaseSchema, token: str, own_job: str | None = None) -> list[str]:
    """Generated requests (valid, then invalid) to every operation; the problems found, one line each.

    Runs schemathesis's case strategies with hypothesis directly (its pytest plugin does not support
    pytest 9 yet); a problem is recorded and the run goes on, so one bad answer does not hide others.
    """
    problems: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, token, own_job, problems)
    return problems


def _fuzz_operation(operation: schemathesis.APIOperation, mode: GenerationMode, token: str, own_job: str | None,
                    problems: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ_SETTINGS
    def run(case: schemathesis.Case) -> None:
        if case.path_parameters and own_job:  # aim at the key's own job, where it is let in
            for name in ("job_id", "rid"):
                if name in case.path_parameters:
                    case.path_parameters[name] = own_job
        if operation.path.endswith("/start"):
            case.query = {**(case.query or {}), "launch": "false"}  # never run generated commands
        response = case.call(headers=headers, timeout=60)
        TALLY["requests"] += 1
        if response.status_code >= 500:
            TALLY["5xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, FailureGroup) as exc:  # a check failed: keep going, report it at the end
            if response.status_code < 500:
                TALLY["violations"] += 1
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            problems.append(f"{operation.label} ({mode.value}): {response.status_code} "
                            f"{' | '.join(lines[:4]) or type(exc).__name__}")

    run()


def test_fuzz_with_a_user_token(api_schema: schemathesis.BaseSchema, fuzz_world: FuzzWorld) -> None:
    problems = _fuzz(api_schema, fuzz_world.user_token)
    assert not problems, "\n".join(problems[:30])


def test_fuzz_with_a_job_key(api_schema: schemathesis.BaseSchema, fuzz_world: FuzzWorld) -> None:
    problems = _fuzz(api_schema, fuzz_world.job_key, own_job=fuzz_world.job_id)
    assert not problems, "\n".join(problems[:30])
