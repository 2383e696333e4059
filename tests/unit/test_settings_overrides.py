"""Command-line overrides in dot notation, and settings -> argv -> settings."""

from __future__ import annotations

import enum
import logging
from typing import Literal, Optional

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import Field

from brevettiai import JobSettings
from brevettiai.errors import SettingsError
from brevettiai.settings import Module, parse_overrides, parse_settings, settings_to_argv
from brevettiai.settings.overrides import HelpRequested, asks_for_help


class Kind(enum.Enum):
    a = "a"
    b = "b"


class Optim(JobSettings):
    lr: float = 0.1
    nesterov: bool = False


class Custom(Module):
    def __init__(self, custom_param: int = None):
        self.custom_param = custom_param


class S(JobSettings):
    epochs: int = 10
    name: str = "run"
    kind: Kind = Kind.a
    mode: Literal["x", "y"] = "x"
    maybe: Optional[float] = None
    tags: list[str] = []
    mapping: dict[str, int] = {}
    flag: bool = False
    optim: Optim = Optim()
    custom: Optional[Custom] = None


def parse(argv: list[str], config: dict | None = None) -> S:
    return parse_settings(S, config or {}, argv)


def test_values_are_parsed_by_declared_type() -> None:
    s = parse(["--epochs", "3", "--optim.lr=0.5", "--kind", "b", "--mode", "y", "--maybe", "2",
               "--tags", '["p", "q"]', "--mapping", '{"k": 1}', "--name", "42"])
    assert (s.epochs, s.optim.lr, s.kind, s.mode, s.maybe) == (3, 0.5, Kind.b, "y", 2.0)
    assert s.tags == ["p", "q"] and s.mapping == {"k": 1} and s.name == "42"


def test_declared_type_wins_over_the_type_of_the_current_value() -> None:
    # info.json holds an int for a float setting; the override is still read as the declared float
    assert parse(["--optim.lr", "0.01"], {"optim": {"lr": 1}}).optim.lr == 0.01


def test_bool_flags() -> None:
    assert parse(["--flag"]).flag is True
    assert parse(["--flag", "false"]).flag is False
    assert parse(["--no-flag"], {"flag": True}).flag is False
    assert parse(["--optim.nesterov", "--epochs", "2"]).optim.nesterov is True


def test_values_containing_equals_signs_stay_intact() -> None:
    assert parse(["--name=a=b=c"]).name == "a=b=c"


def test_override_of_a_setting_whose_value_is_null() -> None:
    s = parse(["--custom.custom_param", "5", "--maybe", "1.5"], {"custom": None, "maybe": None})
    assert isinstance(s.custom, Custom) and s.custom.custom_param == 5 and s.maybe == 1.5


def test_empty_string_for_optional_is_none() -> None:
    assert parse(["--maybe="], {"maybe": 3}).maybe is None


def test_repeated_flag_last_wins_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert parse(["--epochs", "1", "--epochs", "2"]).epochs == 2
    assert "more than once" in caplog.text


def test_non_flag_tokens_are_ignored_like_a_notebook_kernels() -> None:
    assert parse(["-f", "/tmp/kernel.json", "positional", "--epochs", "4"]).epochs == 4


def test_a_nested_setting_typed_without_its_group_suggests_the_whole_path() -> None:
    with pytest.raises(SettingsError, match=r"unknown setting flag --lr .*did you mean --optim\.lr\?"):
        parse(["--lr", "1"])


def test_unknown_setting_names_the_flag_and_suggests_close_matches() -> None:
    with pytest.raises(SettingsError) as info:
        parse(["--optim.lrr", "1"])
    message = str(info.value)
    assert "--optim.lrr" in message and "did you mean --optim.lr" in message
    assert info.value.code == 2


def test_value_that_does_not_fit_names_flag_value_and_accepted_values() -> None:
    with pytest.raises(SettingsError, match=r"--epochs '0\.5': expected an integer"):
        parse(["--epochs", "0.5"])
    with pytest.raises(SettingsError, match=r"--kind 'c': expected one of 'a', 'b'"):
        parse(["--kind", "c"])
    with pytest.raises(SettingsError, match=r"--flag 'maybe': expected a boolean"):
        parse(["--flag=maybe"])
    with pytest.raises(SettingsError, match=r"--epochs needs a value"):
        parse(["--epochs"])


def test_a_value_out_of_bounds_names_the_bounds_it_missed() -> None:
    class Bounded(JobSettings):
        epochs: int = Field(10, ge=1)
        size: int = Field(64, gt=0, multiple_of=32)

    with pytest.raises(SettingsError, match=r"--epochs '0': expected an integer \(>= 1\)"):
        parse_overrides(Bounded, ["--epochs", "0"])
    with pytest.raises(SettingsError, match=r"--size '48': expected an integer \(> 0, a multiple of 32\)"):
        parse_overrides(Bounded, ["--size", "48"])


def test_reserved_job_flags_are_returned_not_applied() -> None:
    overrides, reserved = parse_overrides(S, ["--job_id", "J", "--api_key=K", "--epochs", "1"],
                                          reserved=("job_id", "api_key"))
    assert reserved == {"job_id": "J", "api_key": "K"} and overrides == {"epochs": 1}


def test_help_lists_every_setting() -> None:
    with pytest.raises(HelpRequested) as info:
        parse(["--help"])
    assert info.value.code == 0
    assert not isinstance(info.value, Exception)  # a request, not an error: `except Exception` lets it through
    assert "--optim.lr" in info.value.message and "--custom.custom_param" in info.value.message


HELP_LINES = [
    ["--help"], ["--epochs", "3", "--help"], ["--help=yes"], ["--epochs", "--help"], ["--epochs=many", "--help"],
    ["-epochs", "5", "--help"], ["--job_id", "J", "--help"], ["--job_id", "--help"], ["--job_id=J", "--help"],
    ["--", "--help"], ["--epochs", "3"], [], ["help"], ["-h"], ["--name", "x", "--", "--help"],
    ["--help", "--job_id"], ["--optim.lr", "0.2", "--help", "--epochs", "oops"],
]


@pytest.mark.parametrize("argv", HELP_LINES, ids=" ".join)
def test_asks_for_help_answers_as_the_parser_does(argv: list[str]) -> None:
    try:
        parse_overrides(S, argv, reserved=("job_id",))
        parsed_help = False
    except HelpRequested:
        parsed_help = True
    except SettingsError:
        parsed_help = False
    assert asks_for_help(argv, reserved=("job_id",)) is parsed_help


def test_dash_spelling_is_accepted() -> None:
    class D(JobSettings):
        learning_rate: float = 0.1

    assert parse_settings(D, {}, ["--learning-rate", "0.2"]).learning_rate == 0.2


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
optim = st.builds(Optim, lr=st.floats(allow_nan=False, allow_infinity=False, width=32), nesterov=st.booleans())
trees = st.builds(
    S,
    epochs=st.integers(-10**12, 10**12),
    name=texts,
    kind=st.sampled_from(Kind),
    mode=st.sampled_from(["x", "y"]),
    maybe=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    tags=st.lists(texts, max_size=3),
    mapping=st.dictionaries(texts, st.integers(), max_size=3),
    flag=st.booleans(),
    optim=optim,
    custom=st.none() | st.builds(Custom, custom_param=st.none() | st.integers()),
)


@hsettings(max_examples=150, deadline=None)
@given(trees)
def test_settings_to_argv_to_settings_is_the_identity(tree: S) -> None:
    rebuilt = parse_settings(S, {}, settings_to_argv(tree))
    assert rebuilt.get_config() == tree.get_config()


def test_every_bad_flag_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_overrides(S, ["--epochs", "many", "--nope", "1", "--optim.lr", "fast", "--name", "ok"])
    message = str(caught.value)
    assert message.startswith("3 problems with the command line")
    assert "--epochs 'many'" in message and "--nope" in message and "--optim.lr 'fast'" in message


@pytest.mark.parametrize(("token", "hint"), [("-epochs", "--epochs"), ("-optim.lr=0.5", "--optim.lr"),
                                             ("-job_id", "--job_id"), ("-epoch", "--epochs"),
                                             ("-lr", "--optim.lr"), ("-nesterov", "--optim.nesterov")])
def test_a_one_dash_setting_flag_is_an_error_with_a_hint(token: str, hint: str) -> None:
    with pytest.raises(SettingsError, match=f"two dashes; did you mean {hint}"):
        parse_overrides(S, [token, "5"], reserved=("job_id",))


def test_one_dash_words_that_name_no_setting_are_still_ignored() -> None:
    assert parse_overrides(S, ["-f", "/run/kernel.json", "--epochs", "3"]) == ({"epochs": 3}, {})


def test_help_shows_numeric_bounds() -> None:
    from pydantic import Field

    class Bounded(JobSettings):
        epochs: int = Field(10, ge=1, le=100, multiple_of=2)
        rate: float = Field(0.1, gt=0, lt=1)
        name: str = Field("x", min_length=1, max_length=5)

    with pytest.raises(HelpRequested) as caught:
        parse_overrides(Bounded, ["--help"])
    assert "--epochs  an integer (>= 1, <= 100, a multiple of 2)" in caught.value.message
    assert "(> 0, < 1)" in caught.value.message
    assert "--name  a string (length >= 1, length <= 5)" in caught.value.message


def test_multiples_and_lengths_are_checked_per_flag_and_reported_together() -> None:
    from pydantic import Field

    class Constrained(JobSettings):
        batch: int = Field(8, multiple_of=8)
        name: str = Field("x", max_length=5)

    with pytest.raises(SettingsError) as caught:
        parse_overrides(Constrained, ["--batch", "12", "--name", "much too long"])
    message = str(caught.value)
    assert message.startswith("2 problems with the command line")
    assert "--batch '12'" in message and "multiple of 8" in message
    assert "--name 'much too long'" in message and "at most 5 characters" in message
