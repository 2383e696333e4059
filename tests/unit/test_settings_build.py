"""Building settings trees from config dicts, and back with get_config."""

from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Literal, Optional

import pydantic
import pytest

from brevettiai import JobSettings
from brevettiai.errors import SettingsError
from brevettiai.settings import AnySettings, Module, parse_settings, to_config


class Color(enum.Enum):
    red = "red"
    blue = "blue"


@dataclasses.dataclass
class StdData:
    size: int = 10
    classes: list[str] = dataclasses.field(default_factory=lambda: ["a"])


@pydantic.dataclasses.dataclass
class PydanticDC:
    rate: float = 0.5


class Plain(Module):
    def __init__(self, depth: int = 3, name: str = "net"):
        self.depth = depth
        self.name = name


class Inner(pydantic.BaseModel):
    alpha: float = 0.5


class Tree(JobSettings):
    epochs: int = 10
    color: Color = Color.red
    mode: Literal["fast", "slow"] = "fast"
    maybe: Optional[int] = None
    mapping: dict[str, int] = {}
    data: StdData = StdData()
    dc: PydanticDC = PydanticDC()
    plain: Plain = Plain()
    inner: Inner = Inner()


def test_nested_objects_are_real_instances_of_their_classes() -> None:
    tree = Tree.from_config({"data": {"size": 3}, "plain": {"depth": 7}, "inner": {"alpha": 0.1}})
    assert isinstance(tree.data, StdData) and tree.data.size == 3
    assert isinstance(tree.plain, Plain) and tree.plain.depth == 7 and tree.plain.name == "net"
    assert isinstance(tree.inner, Inner) and tree.inner.alpha == 0.1
    assert isinstance(tree.dc, PydanticDC)


def test_get_config_is_plain_json_and_from_config_rebuilds_an_equal_tree() -> None:
    tree = Tree.from_config({"epochs": 2, "color": "blue", "mapping": {"x": 1}, "plain": {"depth": 1}})
    config = tree.get_config()
    assert config["color"] == "blue" and config["plain"] == {"depth": 1, "name": "net"}
    assert config["data"] == {"size": 10, "classes": ["a"]}
    again = Tree.from_config(config)
    assert again.get_config() == config


def test_json_text_from_platform_forms_is_parsed_for_non_string_fields() -> None:
    tree = Tree.from_config({"epochs": "5", "mapping": '{"a": 2}', "data": '{"size": 4}', "maybe": ""})
    assert tree.epochs == 5 and tree.mapping == {"a": 2} and tree.data.size == 4 and tree.maybe is None


def test_strings_stay_strings_for_string_fields() -> None:
    class S(JobSettings):
        text: str = ""
        either: int | str = 0

    s = S.from_config({"text": "12", "either": "12"})
    assert s.text == "12" and s.either == "12"


def test_unknown_keys_are_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    unknown: dict = {}
    with caplog.at_level(logging.WARNING, logger="brevettiai.utils.module"):
        tree = parse_settings(Tree, {"epochs": 1, "bogus": 1, "plain": {"nope": 2}}, unknown=unknown)
    assert tree.epochs == 1
    assert unknown == {"bogus": 1, "plain.nope": 2}
    assert "Invalid config keys: bogus, plain.nope" in caplog.text


def test_module_from_config_logs_invalid_keys_like_the_original(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        plain = Plain.from_config({"depth": 2, "some_setting_i_need": 1})
    assert plain.depth == 2
    assert ("brevettiai.utils.module", logging.WARNING, "Invalid config keys: some_setting_i_need") in caplog.record_tuples


def test_wrong_values_name_the_setting_and_what_was_given() -> None:
    with pytest.raises(SettingsError, match=r"setting 'plain.depth'.*integer.*'deep'"):
        Tree.from_config({"plain": {"depth": "deep"}})
    with pytest.raises(SettingsError, match=r"'color'"):
        Tree.from_config({"color": "green"})


def test_missing_required_setting_names_field_and_flag() -> None:
    class Needs(JobSettings):
        size: int

    with pytest.raises(SettingsError, match=r"'size'.*--size VALUE"):
        Needs.from_config({})


def test_any_settings_keeps_every_key() -> None:
    settings = AnySettings.from_config({"a": 1, "b": {"c": [1, 2]}})
    assert settings.get_config() == {"a": 1, "b": {"c": [1, 2]}}
    assert settings.a == 1


def test_to_config_handles_numpy_paths_and_enums() -> None:
    import pathlib

    import numpy as np

    assert to_config({"a": np.float32(1.5), "b": np.arange(3), "p": pathlib.Path("/x"), "c": Color.blue}) == \
        {"a": 1.5, "b": [0, 1, 2], "p": "/x", "c": "blue"}


def test_plain_class_with_kwargs_keeps_extra_keys() -> None:
    class Loose(Module):
        def __init__(self, a: int = 1, **kwargs):
            self.a = a
            self.__dict__.update(kwargs)

    loose = Loose.from_config({"a": 2, "extra": "x"})
    assert loose.get_config() == {"a": 2, "extra": "x"}
