"""The ``brevettiai`` command: job status, settings schemas, and (with the server extra) the platform."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated

import typer

from brevettiai.errors import BrevettiError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Brevetti AI job tools.")


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


@app.command()
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


@app.command()
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


def _server_help(name: str) -> str:
    from brevettiai.server.config import SETTINGS

    return f"{SETTINGS[name].help} Env: {SETTINGS[name].env}."


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


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help=_server_help("host") + " Default: 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help=_server_help("port") + " Default: 8000.")] = None,
    data_dir: Annotated[str | None, typer.Option(help=_server_help("data_dir") + " Default: ./brevettiai-data.")] = None,
    database_url: Annotated[str | None, typer.Option(help=_server_help("database_url"))] = None,
    storage: Annotated[str | None, typer.Option(help=_server_help("storage"))] = None,
    public_url: Annotated[str | None, typer.Option(help=_server_help("public_url"))] = None,
    runner: Annotated[str | None, typer.Option(help=_server_help("runner") + " Default: local.")] = None,
    dask_scheduler: Annotated[str | None, typer.Option(help=_server_help("dask_scheduler"))] = None,
    stop_grace: Annotated[str | None, typer.Option(help=_server_help("stop_grace") + " Default: 30.")] = None,
    max_running_jobs: Annotated[int | None, typer.Option(help=_server_help("max_running_jobs") + " Default: 0.")] = None,
    heartbeat_timeout: Annotated[str | None, typer.Option(help=_server_help("heartbeat_timeout") + " Default: 60.")] = None,
    token_ttl: Annotated[str | None, typer.Option(help=_server_help("token_ttl") + " Default: 12h.")] = None,
    max_upload: Annotated[str | None, typer.Option(help=_server_help("max_upload") + " Default: 10GiB.")] = None,
    job_user: Annotated[str | None, typer.Option(help=_server_help("job_user"))] = None,
    workers: Annotated[int | None, typer.Option(help=_server_help("workers") + " Default: 1.")] = None,
    secret_key: Annotated[str | None, typer.Option(help=_server_help("secret_key") + " Default: generated once.",
                                                   show_default=False)] = None,
    log_level: Annotated[str | None, typer.Option(help=_server_help("log_level") + " Default: info.")] = None,
) -> None:
    """Run the self-hosted platform server (needs the server extra). Stop it with Ctrl-C or SIGTERM."""
    from brevettiai.server.config import ConfigError, ServerConfig

    flags = dict(host=host, port=port, data_dir=data_dir, database_url=database_url, storage=storage,
                 public_url=public_url, runner=runner, dask_scheduler=dask_scheduler,
                 stop_grace=stop_grace, max_running_jobs=max_running_jobs, job_user=job_user, workers=workers,
                 secret_key=secret_key,
                 heartbeat_timeout=heartbeat_timeout, token_ttl=token_ttl, max_upload=max_upload, log_level=log_level)
    try:
        config = ServerConfig.load(flags)
        resolved = config.resolved()  # reports settings that do not fit together before anything starts
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


@app.command()
def migrate(
    data_dir: Annotated[str | None, typer.Option(help=_server_help("data_dir") + " Default: ./brevettiai-data.")] = None,
    database_url: Annotated[str | None, typer.Option(help=_server_help("database_url"))] = None,
) -> None:
    """Bring the platform's database schema up to date, then exit (servers also do this when they start)."""
    from brevettiai.server.config import ConfigError, ServerConfig

    try:
        config = ServerConfig.load({"data_dir": data_dir, "database_url": database_url}).resolved()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
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


@app.command(name="upload-data", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                                   "help_option_names": []})
def upload_data(ctx: typer.Context) -> None:
    """Upload a folder to a dataset on the platform (FOLDER --dataset_name NAME; --help for all options)."""
    from brevettiai.utils.upload_data import main as upload_main

    raise typer.Exit(upload_main(list(ctx.args)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def sync(ctx: typer.Context) -> None:
    """Bring an offline job directory into a platform as a model (JOB_DIR --host URL; --help for all options)."""
    from brevettiai.utils.sync import main as sync_main

    raise typer.Exit(sync_main(list(ctx.args)))


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
