"""Every SDK environment variable says whether a job started by the platform inherits it."""

from __future__ import annotations

from typing import get_args

from brevettiai.contract.environment import SDK_ENVIRONMENT, EnvKind, passed_to_jobs, sdk_variable_names

# What an operator sets once for every job (and so every job inherits), spelled out here, not derived.
BEHAVIOUR = {"BREVETTI_AI_CACHE", "BREVETTI_AI_HEARTBEAT_INTERVAL", "BREVETTI_AI_FLUSH_TIMEOUT",
             "BREVETTI_AI_SYSTEM_METRICS", "BREVETTI_AI_SYSTEM_METRICS_INTERVAL"}
NEVER_INHERITED = {"BREVETTI_AI_USER", "BREVETTI_AI_PW", "BREVETTI_AI_TOKEN", "BREVETTI_AI_API_KEY",
                   "BREVETTI_AI_JOB_ID", "BREVETTI_AI_JOB_DIR", "BREVETTI_AI_INFO_FILE", "BREVETTI_AI_HOST",
                   "BREVETTIAI_HOST_NAME", "BREVETTI_AI_DATA_BUCKET", "BREVETTIAI_DATA_BUCKET"}


def test_every_variable_is_classified() -> None:
    kinds = set(get_args(EnvKind))
    unclassified = sorted(key for key, variable in SDK_ENVIRONMENT.items() if variable.kind not in kinds)
    assert not unclassified, f"give these a kind ({sorted(kinds)}): {unclassified}"
    assert sdk_variable_names() == BEHAVIOUR | NEVER_INHERITED, "a new variable: say here whether jobs inherit it"


def test_jobs_inherit_exactly_the_behaviour_settings() -> None:
    assert passed_to_jobs() == BEHAVIOUR


def test_no_secret_and_no_login_is_passed_to_jobs() -> None:
    for key, variable in SDK_ENVIRONMENT.items():
        if variable.secret or variable.kind == "credential":
            assert not variable.passed_to_jobs, key
    assert {SDK_ENVIRONMENT[k].kind for k in ("username", "password", "token")} == {"credential"}
