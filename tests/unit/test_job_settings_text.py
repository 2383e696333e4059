"""A record's ``settings`` given as JSON text (as the original platform stored them) is read like a dict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brevettiai import Job, JobSettings
from brevettiai.errors import SettingsError


class Settings(JobSettings):
    epochs: int = 3
    name: str = "default"


class Train(Job):
    settings: Settings


def _job(tmp_path: Path, settings: object) -> Train:
    (tmp_path / "info.json").write_text(json.dumps({"id": "j1", "name": "train", "settings": settings}))
    job = Train.init(job_dir=str(tmp_path), argv=[], log_level=30, system_metrics=False)
    assert isinstance(job, Train)
    return job


@pytest.mark.parametrize("given", ['{"epochs": 7, "name": "text"}', '\n  {"epochs": 7, "name": "text"}  \n',
                                   {"epochs": 7, "name": "text"}])
def test_settings_as_json_text_or_a_dict_are_the_same_settings(tmp_path: Path, given: object) -> None:
    settings = _job(tmp_path, given).settings
    assert (settings.epochs, settings.name) == (7, "text")


@pytest.mark.parametrize("given", ["", "   \n", None, {}])
def test_blank_or_missing_settings_are_the_defaults(tmp_path: Path, given: object) -> None:
    settings = _job(tmp_path, given).settings
    assert (settings.epochs, settings.name) == (3, "default")


def test_settings_text_that_is_not_json_is_a_settings_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        _job(tmp_path, "{epochs: 7}")
    assert '"settings"' in caught.value.message and "not JSON" in caught.value.message
