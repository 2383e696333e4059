"""The SDK's one table of environment variables: every reader agrees, bad values are named."""

from __future__ import annotations

import pytest

from brevettiai._env import SDK_ENVIRONMENT, env_value, sdk_variable_names
from brevettiai._location import resolve_location
from brevettiai.errors import UsageError


def test_first_set_variable_wins_and_legacy_names_count() -> None:
    assert env_value("host", environ={"BREVETTIAI_HOST_NAME": "http://old"}) == "http://old"
    assert env_value("host", environ={"BREVETTI_AI_HOST": "http://new", "BREVETTIAI_HOST_NAME": "http://old"}) \
        == "http://new"
    assert env_value("host", "fallback", environ={"BREVETTI_AI_HOST": ""}) == "fallback"


@pytest.mark.parametrize("raw", ["ten", "0", "-1", "inf", "nan"])
def test_an_unusable_number_is_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(UsageError) as caught:
        env_value("heartbeat_interval", environ={"BREVETTI_AI_HEARTBEAT_INTERVAL": raw})
    assert "BREVETTI_AI_HEARTBEAT_INTERVAL" in str(caught.value) and "seconds" in str(caught.value)


def test_a_secret_value_is_not_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from brevettiai.contract import environment

    monkeypatch.setitem(SDK_ENVIRONMENT, "password", environment.EnvVar(
        ("BREVETTI_AI_PW",), environment._positive_seconds, "x", "test", "credential", secret=True))
    with pytest.raises(UsageError) as caught:
        env_value("password", environ={"BREVETTI_AI_PW": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_job_location_reads_the_same_table() -> None:
    location = resolve_location({}, {}, environ={"BREVETTIAI_HOST_NAME": "http://platform", "BREVETTI_AI_JOB_ID": "j1"})
    assert location.host == "http://platform" and location.job_dir == "brevettiai://j1"


def test_the_web_client_honours_the_legacy_host_name(monkeypatch) -> None:
    from brevettiai.errors import PlatformConfigError
    from brevettiai.platform.web_api import PlatformAPI

    monkeypatch.setenv("BREVETTIAI_HOST_NAME", "http://127.0.0.1:9")
    with pytest.raises(Exception) as caught:  # the host is found: the error is about reaching or logging in
        PlatformAPI(username="u", password="p", remember_me=False, retries=0, timeout=1)
    assert not isinstance(caught.value, PlatformConfigError)


def test_every_variable_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = sorted(name for name in sdk_variable_names() if f"`{name}`" not in readme)
    assert not missing, f"README's variable table lacks {missing}"
