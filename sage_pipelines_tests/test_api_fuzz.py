"""The API fuzzed from its own OpenAPI schema (schemathesis) with an admin token: no 5xx, every
response valid against the schema and status codes the API documents, and no password in any
response, whether it was stored before the fuzzing or sent by it.

Budget: `FUZZ_EXAMPLES` (20) schema-valid and half as many schema-breaking requests for each of the
41 operations, half of them aimed at things that exist: about 45 s on the 2-core machine.
`SAGE_FUZZ_EXAMPLES=200` makes a longer run.
"""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from sage_pipelines.api.app import create_app
from sage_pipelines.demo import register_demo
from sage_pipelines.services.connections import add_connection
from sage_pipelines.services.secrets import add_secret
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.api_support import API, CASILLA, api_home, bearer, tokens  # noqa: F401
from sage_pipelines_tests.secrets_support import canary

FUZZ_EXAMPLES = int(os.environ.get("SAGE_FUZZ_EXAMPLES", "20"))
# `make test` replays the same examples on every run (a CI result never depends on luck); a longer
# run asked for with SAGE_FUZZ_EXAMPLES explores fresh random ones.
DERANDOMIZE = "SAGE_FUZZ_EXAMPLES" not in os.environ
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
KNOWN = {"secrets": "pg", "connections": "analytics", "lakes": "lake", "servers": "local", "casillas": CASILLA,
         "materializations": CASILLA}  # what exists, by the path's resource
KNOWN_REFERENCES = {"secret": "pg", "casilla": CASILLA}
SENT_PASSWORDS: set[str] = set()  # every password the fuzzer sent (each replaced by a fresh canary)


@pytest.fixture
def fuzzed(api_home, tokens):
    """The app on an installation with the demo, a PostgreSQL secret holding a canary, a connection."""
    register_demo(api_home)
    password = canary()
    SENT_PASSWORDS.add(password)
    with session_scope(api_home) as session:
        add_secret(session, "pg", "postgresql", "127.0.0.1", 5432, "postgres", "test", password, home=api_home)
        add_connection(session, "analytics", "pg")
    app = create_app(api_home)
    with TestClient(app, raise_server_exceptions=False):  # lifespan on, as under uvicorn
        yield app, bearer(tokens["admin"])


def _canaries_for_passwords(body: object) -> None:
    """Replace each generated password by a fresh canary, so a leak of any of them is recognisable."""
    if isinstance(body, dict) and isinstance(body.get("password"), str):
        body["password"] = f"Fuzz-Canary-{uuid.uuid4().hex}"
        SENT_PASSWORDS.add(body["password"])


def _at_known_things(case) -> None:
    """Point the case's path name and references at things that exist, so handlers go past the lookup."""
    resource = case.path.split("/")[3]
    if case.path_parameters and "name" in case.path_parameters and resource in KNOWN:
        case.path_parameters["name"] = KNOWN[resource]
    if isinstance(case.body, dict):
        for field, value in KNOWN_REFERENCES.items():
            if field in case.body:
                case.body[field] = value


def _fuzz(operation, mode: GenerationMode, examples: int, admin: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode), known=st.booleans())
    @settings(max_examples=examples, deadline=None, database=None, derandomize=DERANDOMIZE, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def call(case, known: bool) -> None:
        if known:
            _at_known_things(case)
        _canaries_for_passwords(case.body)
        response = case.call(headers=admin)
        case.validate_response(response, checks=CHECKS, headers=admin)
        leaked = [p for p in SENT_PASSWORDS if p in response.text]
        assert not leaked, f"{case.method} {case.formatted_path} answered a password"

    call()


def test_the_api_survives_its_own_schema(fuzzed):
    """Schema-valid requests (`positive`) and schema-breaking ones (`negative`) to every operation.
    (One test over all operations: schemathesis's pytest plugin does not run under pytest 9.)"""
    app, admin = fuzzed
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    failures = []
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, FUZZ_EXAMPLES), (GenerationMode.NEGATIVE, FUZZ_EXAMPLES // 2)):
            try:
                _fuzz(operation, mode, examples, admin)
            except Exception as exc:  # noqa: BLE001 (collected: one report for every operation)
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
