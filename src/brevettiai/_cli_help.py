"""Command classes of the ``brevettiai`` command whose help shows no value type after a flag.

typer 0.29's rich help prints every option's type, so a flag reads ``--help <bool>`` as if it took
a value (its plain-text help leaves the type out for flags). These classes give each flag an empty
metavar before the help is drawn; parsing and error messages name options by their flags, not by it.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer._click as click
from typer.core import TyperCommand, TyperGroup, TyperOption


def _hide_flag_types(params: Iterable[object]) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


class FlagsCommand(TyperCommand):
    """A command whose help shows flags without a type."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _hide_flag_types(self.get_params(ctx))
        super().format_help(ctx, formatter)


class FlagsGroup(TyperGroup):
    """A group of commands whose help shows flags without a type."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _hide_flag_types(self.get_params(ctx))
        super().format_help(ctx, formatter)
