"""Where a job is: its id, key, info file and directory, from arguments, argv and environment.

Each value is taken from the first of: the argument to `Job.init`, the command line, the
environment. Nothing here reads files; `Job.init` does that with the result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from brevettiai.errors import JobNotFoundError

if TYPE_CHECKING:
    from brevettiai._env import TextVariable

# Command-line flags that locate the job; every other --flag is a setting.
JOB_FLAGS = ("job_id", "model_id", "test_id", "api_key", "info_file", "job_dir", "cache_path", "host", "data_bucket")

class JobLocation(NamedTuple):
    """The resolved coordinates of a job; `info_file` is where its info.json is read from.

    A NamedTuple rather than a frozen dataclass: as immutable, and a tenth of the cost to define (every
    job's start imports it).
    """

    job_id: str | None
    api_key: str | None
    info_file: str
    job_dir: str
    cache_path: str | None
    host: str | None
    create_if_missing: bool  # an explicit job dir without info.json starts a new offline job
    on_platform: bool = False  # the job dir is served by the platform's files API


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v not in (None, "")), None)


def _from_env(name: TextVariable, environ: Mapping[str, str]) -> str | None:
    from brevettiai._env import env_value

    return env_value(name, environ=environ)


def resolve_location(arguments: Mapping[str, str | None], flags: Mapping[str, str],
                     environ: Mapping[str, str] | None = None) -> JobLocation:
    """Resolve the job's location; raises JobNotFoundError naming every way to give one."""
    # Imported here: `--help` reads only JOB_FLAGS from this module.
    from brevettiai.contract import scheme
    from brevettiai.io import path as io_path

    environ = os.environ if environ is None else environ

    def pick(name: TextVariable) -> str | None:
        return _first(arguments.get(name), flags.get(name), _from_env(name, environ))

    job_id = _first(arguments.get("job_id"), flags.get("job_id"), flags.get("model_id"), flags.get("test_id"),
                    _from_env("job_id", environ))
    info_file = pick("info_file")
    job_dir_given = _first(arguments.get("job_dir"), flags.get("job_dir"))
    job_dir = job_dir_given or _from_env("job_dir", environ)
    data_bucket = pick("data_bucket")
    host = pick("host")

    if job_dir is None and info_file is not None:
        job_dir = io_path.dirname(info_file) or "."
    if job_dir is None and job_id is not None and data_bucket is not None:
        job_dir = io_path.join(data_bucket, job_id)
    if job_dir is None and job_id is not None and host is not None:
        job_dir = scheme.resource_url(job_id)
    on_platform = job_dir is not None and scheme.is_platform_url(job_dir)
    if on_platform and host is None:
        raise JobNotFoundError(f"The job dir {job_dir} is on a platform: give its address with --host URL "
                               f"or BREVETTI_AI_HOST")
    if job_dir is None:
        if job_id is None:
            raise JobNotFoundError(
                "No job to run: give a job id (Job.init(job_id=...), --job_id/--model_id/--test_id, or "
                "BREVETTI_AI_JOB_ID), an info file (--info_file or BREVETTI_AI_INFO_FILE), or a job "
                "directory (--job_dir or BREVETTI_AI_JOB_DIR; a new offline job starts there if it has no info.json)")
        raise JobNotFoundError(
            f"Job '{job_id}' has no job directory: give the platform that runs it with --host URL / "
            f"BREVETTI_AI_HOST, a job directory with --job_dir DIR, or the storage root holding job "
            f"directories with --data_bucket URL / BREVETTI_AI_DATA_BUCKET")
    return JobLocation(
        job_id=job_id,
        api_key=pick("api_key"),
        info_file=info_file or io_path.join(job_dir, "info.json"),
        job_dir=job_dir,
        cache_path=pick("cache_path"),
        host=host,
        create_if_missing=info_file is None and job_dir_given is not None and not on_platform,
        on_platform=on_platform,
    )
