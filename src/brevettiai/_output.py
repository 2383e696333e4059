"""The content of ``artifacts/output.json``: metrics, environment and the job's own record."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from brevettiai.contract.jsontypes import JSONObject, JSONValue
from brevettiai.settings import to_config

if TYPE_CHECKING:
    from brevettiai.job import Job

# Flags whose value is a secret: they are left out of the recorded command line.
_SECRET_FLAGS = frozenset({"--api_key"})


def redacted_argv(argv: list[str]) -> list[str]:
    """The command line with the values of secret flags removed (by structure, not by text search)."""
    out: list[str] = []
    skip_next = False
    for token in argv:
        if skip_next:
            skip_next = False
            continue
        name, has_value, _ = token.partition("=")
        if name in _SECRET_FLAGS:
            skip_next = not has_value
            continue
        out.append(token)
    return out


def job_record(job: Job) -> JSONObject:
    """The job part of output.json: who it is, its settings and inputs, and its state; never its key."""
    state = job.state.to_dict()
    return {
        "id": job.id,
        "name": job.name,
        "run_id": job.run_id,
        "job_dir": job.job_dir,
        "host_name": job.host_name,
        "settings_class": f"{type(job.settings).__module__}.{type(job.settings).__qualname__}",
        "settings": to_config(job.settings),
        "unknown_settings": to_config(job.unknown_settings),
        "datasets": [d.to_wire() for d in job.datasets],
        "tags": [t.to_wire() for t in job.tags],
        "models": to_config(job.models),
        "parent": to_config(job.parent),
        "argv": cast(JSONValue, redacted_argv(job.argv)),
        "state": state,
    }


def output_document(job: Job, environment: JSONObject) -> JSONObject:
    """The whole output.json document."""
    return {"output": to_config(job.output_metrics), "environment": environment, "job": job_record(job)}
