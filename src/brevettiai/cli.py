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


def main() -> None:
    """Entry point of the ``brevettiai`` command."""
    try:
        app()
    except BrevettiError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
