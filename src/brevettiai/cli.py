"""The ``brevettiai`` command: job status, settings schemas, and (with the server extra) the platform."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from brevettiai._cli_help import FlagsCommand, FlagsGroup
from brevettiai.errors import BrevettiError

if TYPE_CHECKING:
    from brevettiai.server.config import ServerConfig

app = typer.Typer(cls=FlagsGroup, add_completion=False, no_args_is_help=True, help="Brevetti AI job tools.")


def _load_class(target: str) -> type:
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise typer.BadParameter(f"{target!r}: expected MODULE:CLASS, e.g. examples.train:MySettings", param_hint="TARGET")
    sys.path.insert(0, ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import module {module_name!r}: {exc}", param_hint="TARGET") from None
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise typer.BadParameter(f"module {module_name!r} has no {class_name!r}", param_hint="TARGET") from None


@app.command(cls=FlagsCommand)
def schema(
    target: Annotated[str, typer.Argument(help="Settings class (or Job subclass) as MODULE:CLASS")],
    format: Annotated[str, typer.Option("--format", "-f", help="form (the platform's settings form) or json-schema")] = "form",
) -> None:
    """Print the settings schema of a settings class or of a Job subclass's settings."""
    from brevettiai.job import Job, _resolve_settings_class
    from brevettiai.settings import form_schema, json_schema

    cls = _load_class(target)
    if isinstance(cls, type) and issubclass(cls, Job):
        cls = _resolve_settings_class(cls)
    if format not in ("form", "json-schema"):
        raise typer.BadParameter(f"{format!r}: expected 'form' or 'json-schema'", param_hint="--format")
    result = form_schema(cls) if format == "form" else json_schema(cls)
    typer.echo(json.dumps(result, indent=2))


@app.command(cls=FlagsCommand)
def status(job_dir: Annotated[str, typer.Argument(help="The job directory (a folder or an fsspec URL)")]) -> None:
    """Show a job's state; a running job whose process has died on this machine shows as lost."""
    from brevettiai._state import STATE_FILE, JobState, effective_status
    from brevettiai.io import IoTools, path

    io = IoTools()
    state_file = path.join(job_dir, STATE_FILE)
    try:
        state = JobState.from_dict(json.loads(io.read_file(state_file)))
    except FileNotFoundError:
        typer.echo(f"error: no {STATE_FILE} in {job_dir}: not a job directory, or the job never started", err=True)
        raise typer.Exit(2) from None
    shown = effective_status(state)
    typer.echo(f"status:   {shown}")
    for name in ("created", "started", "finished", "model_path"):
        value = getattr(state, name)
        if value:
            typer.echo(f"{name + ':':<9} {value}")
    if state.exit:
        typer.echo(f"exit:     {json.dumps({k: v for k, v in vars(state.exit).items() if v and k != 'traceback'})}")
    if shown == "lost":
        typer.echo(f"the process {state.pid} on {state.hostname} is gone without ending the job")


def _with_server_settings(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one option per server setting (`names`, default all), read from `SETTINGS`.

    Typer reads a command's options from its signature, so the signature is made from the table.
    """
    return lambda command: _set_server_options(command, names)


def _set_server_options(command: Callable[..., None], names: tuple[str, ...]) -> Callable[..., None]:
    import typing

    from brevettiai.server.config import SETTINGS

    hints = typing.get_type_hints(command, include_extras=True)  # the command's own arguments come first
    parameters = [parameter.replace(annotation=hints.get(name, parameter.annotation))
                  for name, parameter in inspect.signature(command).parameters.items()
                  if parameter.kind is not inspect.Parameter.VAR_KEYWORD]
    annotations = {parameter.name: parameter.annotation for parameter in parameters}
    for name, setting in SETTINGS.items():
        if names and name not in names:
            continue
        default = f" Default: {setting.default}." if setting.default else ""
        annotation = Annotated[str | None, typer.Option(setting.flag, help=f"{setting.help} Env: {setting.env}.{default}",
                                                        show_default=False)]
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
        annotations[name] = annotation
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    return command


def _server_config(flags: dict[str, str | None]) -> ServerConfig:
    """The server settings from the flags and environment, checked to fit together; else exit 2 naming the flag."""
    from brevettiai.server.config import ConfigError, ServerConfig

    try:
        config = ServerConfig.load(flags)
        config.resolved()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return config


def _check_storage(url: str) -> None:
    """Stop before serving when the storage root cannot be used (bucket, credentials, endpoint)."""
    from brevettiai.server.config import ConfigError
    from brevettiai.server.storage import storage_problem

    problem = storage_problem(url)
    if problem:
        raise ConfigError(f"--storage {url}: {problem}")


def _check_runner(runner: str, scheduler: str | None) -> None:
    """Stop before serving when the dask runner's scheduler cannot be reached."""
    if runner != "dask":
        return
    from brevettiai.server.config import ConfigError
    from brevettiai.server.runners.dask import scheduler_problem

    problem = scheduler_problem(scheduler or "")
    if problem:
        raise ConfigError(f"--dask-scheduler {scheduler}: {problem}")


@app.command(cls=FlagsCommand)
@_with_server_settings()
def server(**flags: str | None) -> None:
    """Run the self-hosted platform server (needs the server extra). Stop it with Ctrl-C or SIGTERM."""
    from brevettiai.server.config import ConfigError

    config = _server_config(flags)
    resolved = config.resolved()  # reports settings that do not fit together before anything starts
    try:
        _check_storage(resolved.storage or "")
        _check_runner(resolved.runner, resolved.dask_scheduler)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        from brevettiai.server.serve import configure_logging, listen_url, serve
    except ImportError as exc:
        typer.echo(f"error: the server needs the server extra: pip install 'brevettiai[server]' ({exc})", err=True)
        raise typer.Exit(2) from None

    def admin_password(password: str) -> None:
        typer.echo(f"Created user 'admin' with password: {password}\n"
                   f"(shown only this once; BREVETTI_AI_ADMIN_PASSWORD sets it on a first start)")

    configure_logging(config.log_level)
    try:
        code = serve(config, on_ready=lambda c: typer.echo(f"brevettiai platform listening on {listen_url(c)}"),
                     on_admin_password=admin_password)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {config.host}:{config.port}: {exc}", err=True)
        raise typer.Exit(1) from None
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


@app.command(cls=FlagsCommand)
@_with_server_settings("data_dir", "database_url")
def migrate(**flags: str | None) -> None:
    """Bring the platform's database schema up to date, then exit (servers also do this when they start)."""
    config = _server_config(flags).resolved()
    try:
        from sqlalchemy.exc import SQLAlchemyError

        from brevettiai.server.db.migrate import upgrade
        from brevettiai.server.db.session import Database
        from brevettiai.server.serve import configure_logging
    except ImportError as exc:
        typer.echo(f"error: migrate needs the server extra: pip install 'brevettiai[server]' ({exc})", err=True)
        raise typer.Exit(2) from None
    configure_logging("warning")
    try:
        database = Database(config.database_url or "")
        try:
            revision = upgrade(database.engine)
        finally:
            database.dispose()
    except (SQLAlchemyError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: --database-url: cannot migrate {_safe_url(config.database_url or '')}: {reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database schema at revision {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command(name="upload-data", cls=FlagsCommand, context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                                   "help_option_names": []})
def upload_data(ctx: typer.Context) -> None:
    """Upload a folder to a dataset on the platform (FOLDER --dataset_name NAME; --help for all options)."""
    from brevettiai.utils.upload_data import main as upload_main

    raise typer.Exit(upload_main(list(ctx.args)))


@app.command(cls=FlagsCommand, context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def sync(ctx: typer.Context) -> None:
    """Bring an offline job directory into a platform as a model (JOB_DIR --host URL; --help for all options)."""
    from brevettiai.utils.sync import main as sync_main

    raise typer.Exit(sync_main(list(ctx.args)))


def _add_account_commands() -> None:
    from brevettiai.cli_accounts import register

    register(app, _with_server_settings)


_add_account_commands()


def _show_version(value: bool) -> None:
    if value:
        from brevettiai._version import __version__

        typer.echo(f"brevettiai {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                                   help="Show the version and exit.")] = False) -> None:
    """Brevetti AI job tools."""


def main() -> None:
    """Entry point of the ``brevettiai`` command."""
    try:
        app()
    except BrevettiError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
