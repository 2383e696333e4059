"""`Job`: a job's settings, storage and lifecycle (init -> start -> run -> complete/fail/kill)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import typing
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

from brevettiai.contract.info import ENDPOINT_KEYS
from brevettiai.errors import JobNotFoundError, JobStateError, SettingsError, StoragePathError, UsageError
from brevettiai.io import path as io_path
from brevettiai.settings._types import strip_annotated
from brevettiai.settings.job_settings import AnySettings

if typing.TYPE_CHECKING:
    import logging
    from types import TracebackType

    from brevettiai._backend import JobBackend
    from brevettiai._state import ExitInfo, Status
    from brevettiai.contract.info import JobInfo
    from brevettiai.contract.jsontypes import JSONLike, JSONMapping, JSONValue
    from brevettiai.datamodel import Dataset, Tag
    from brevettiai.interfaces.remote_monitor import RemoteMonitor
    from brevettiai.io import IoTools
    from brevettiai.io.tools import Content

# What a job's start needs beyond the class (json, logging, its state and location records) is imported
# by `Job.init`: `from brevettiai import Job` and a `--help` stay close to pydantic's own import.


def _log() -> logging.Logger:
    """The job's logger; the original SDK's name: users grep their logs for these lines."""
    import logging

    return logging.getLogger("brevettiai.platform.job")

# The info.json keys (`brevettiai.contract.info.JobInfo`) the Job models as attributes; the others stay
# readable as attributes as they are (`__getattr__`).
_INFO_FIELDS = {"id", "name", "api_key", "host_name", "datasets", "tags", "models", "parent", "settings",
                "run_id", "model_path", *ENDPOINT_KEYS.values()}


class _Killed(BaseException):
    """Raised inside the job's main thread when SIGTERM or SIGINT arrives during `start()`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _resolve_settings_class(cls: type) -> type:
    """The settings class a Job subclass declares: ``settings: X`` or ``Settings = X``, nearest first."""
    for klass in cls.__mro__:
        annotations = klass.__dict__.get("__annotations__", {})
        if "settings" in annotations:
            hint = annotations["settings"]
            if isinstance(hint, str):
                module = sys.modules.get(klass.__module__)
                hint = eval(hint, vars(module) if module else {}, dict(vars(klass)))  # noqa: S307 - a type hint
            return cast(type, strip_annotated(hint))
        if "Settings" in klass.__dict__:
            return klass.__dict__["Settings"]
    raise TypeError(f"{cls.__name__} declares no settings class")


def _records(model_name: str, items: Sequence[Any] | None) -> list[Any]:
    """The job's datasets or tags as records; a job without any does not load the datamodel's validators."""
    if not items:
        return []
    from brevettiai import datamodel

    model = getattr(datamodel, model_name)
    return [model.model_validate(item) for item in items]


def _configure_logging(level: int) -> None:
    """Show brevettiai's INFO lines like the original SDK did, without touching other libraries' levels."""
    import logging

    if not logging.root.handlers:
        logging.basicConfig()
    logging.getLogger("brevettiai").setLevel(level)


def _url_without_key(url: str | None) -> str | None:
    """Drop a ``key=`` query parameter: job keys travel in headers, never in URLs."""
    if not url or "key=" not in url:
        return url
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "key"]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Job:
    """A job: an input configuration (settings, datasets, tags) with a storage space attached.

    Subclass it, declare the settings class (``settings: MySettings`` or ``Settings = MySettings``)
    and override `run`. Create it with `Job.init`, run it with `start`.
    """

    Settings: type = AnySettings  # the base Job takes any settings

    _ARTIFACTS = "artifacts"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        try:
            cls.Settings = _resolve_settings_class(cls)
        except NameError:  # a forward reference not yet defined: resolved again at init
            pass

    def __init__(self, *, info: JSONMapping, job_dir: str, settings: object, api_key: str | None = None,
                 cache_path: str | None = None, io: IoTools | None = None,
                 unknown_settings: Mapping[str, object] | None = None, backend: JobBackend | None = None,
                 argv: Sequence[str] | None = None) -> None:
        from brevettiai._state import JobState
        from brevettiai.contract.runs import new_run_id

        # The command line as the job was given it: the program, then the arguments Job.init parsed.
        self.argv: list[str] = list(sys.argv) if argv is None else [*sys.argv[:1], *argv]

        known = cast("JobInfo", info)  # its keys as the server writes them (any may be missing)
        self.id: str = str(known["id"])
        self.name: str = str(known.get("name") or self.id)
        self.run_id: str = str(known.get("run_id") or new_run_id())
        self.job_dir: str = job_dir
        self.host_name: str | None = known.get("host_name")
        self.datasets: list[Dataset] = _records("Dataset", cast("list[JSONLike] | None", known.get("datasets")))
        self.tags: list[Tag] = _records("Tag", cast("list[JSONLike] | None", known.get("tags")))
        self.models: list[JSONLike] = list(cast("list[JSONLike]", known.get("models") or []))
        self.parent: JSONLike | None = cast("JSONLike | None", known.get("parent"))
        self.model_path: str | None = known.get("model_path")
        self.api_endpoints: dict[str, str | None] = {
            name: _url_without_key(cast("str | None", known.get(key))) for name, key in ENDPOINT_KEYS.items()}
        self.settings = settings
        self.unknown_settings: dict[str, object] = dict(unknown_settings or {})
        self.output_metrics: dict[str, object] = {}
        self._info_extra = {k: v for k, v in info.items() if k not in _INFO_FIELDS}
        self._api_key = api_key or known.get("api_key")
        self._cache_path = cache_path
        self._temp_dir: str | None = None
        self._owns_temp_dir = False
        if io is None and backend is not None:
            io = backend.io
        elif io is None:
            from brevettiai.io import IoTools

            io = IoTools()
        self.io: IoTools = io
        for dataset in self.datasets:
            dataset.bind_io(self.io)  # so get_image_samples(job.datasets) reads with the job's key
        self.state = JobState(run_id=self.run_id)
        self._environment: Any = None
        if backend is None:
            from brevettiai._backend import OfflineBackend
            from brevettiai._location import JobLocation

            backend = OfflineBackend(JobLocation(job_id=self.id, api_key=None, info_file=io_path.join(job_dir, "info.json"),
                                                 job_dir=job_dir, cache_path=cache_path, host=self.host_name,
                                                 create_if_missing=False), self.io)
        self.backend: JobBackend = backend
        # Record CPU/memory/GPU use as system/... series while running; None: BREVETTI_AI_SYSTEM_METRICS (on).
        self.system_metrics: bool | None = None
        self._system_sampler: Any = None

    # ----------------------------------------------------------------------------------------------
    # Creation

    @classmethod
    def init(cls, job_id: str | None = None, api_key: str | None = None, info_file: str | None = None,
             job_dir: str | None = None, cache_path: str | None = None, *, host: str | None = None,
             data_bucket: str | None = None, argv: Sequence[str] | None = None, log_level: int = 20,
             io: IoTools | None = None, system_metrics: bool | None = None, **kwargs: JSONValue) -> Job:
        """Find the job (arguments, then argv flags, then environment), load its settings and return it.

        Command-line flags other than the job flags (``--job_id``, ``--model_id``, ``--test_id``,
        ``--api_key``, ``--info_file``, ``--job_dir``, ``--cache_path``, ``--host``, ``--data_bucket``)
        override settings in dot notation (``--data.size 42``). `argv` defaults to ``sys.argv[1:]``.
        Keyword arguments override keys of info.json (e.g. ``name=``). `system_metrics` switches the
        ``system/...`` CPU, memory and GPU series on or off (default: ``BREVETTI_AI_SYSTEM_METRICS``, on).
        `log_level` is brevettiai's logging level (default ``logging.INFO``).
        """
        from brevettiai._location import JOB_FLAGS
        from brevettiai.settings.overrides import HelpRequested, asks_for_help, format_help

        arguments = sys.argv[1:] if argv is None else list(argv)
        if asks_for_help(arguments, JOB_FLAGS):  # answered before logging is set up: the help needs none of it
            text = format_help(_resolve_settings_class(cls))
            print(text)  # --help: user-facing output of a command
            raise HelpRequested(text)
        _configure_logging(log_level)
        try:
            job = cls._init(job_id=job_id, api_key=api_key, info_file=info_file, job_dir=job_dir,
                            cache_path=cache_path, host=host, data_bucket=data_bucket,
                            argv=arguments, io=io, overrides=kwargs)
            from brevettiai._env import env_value

            job.system_metrics = env_value("system_metrics", True) if system_metrics is None else system_metrics
            env_value("system_metrics_interval")  # a bad interval stops the job here, not when it starts
            return job
        except HelpRequested as help_text:
            print(help_text.message)  # --help: user-facing output of a command
            raise
        except UsageError as exc:
            _log().error("%s", exc.message)
            raise

    @classmethod
    def _init(cls, *, argv: list[str], io: IoTools | None, overrides: dict[str, Any], **arguments: Any) -> Job:
        from brevettiai._location import JOB_FLAGS, resolve_location
        from brevettiai.contract.jsontext import settings_from_text
        from brevettiai.settings import parse_overrides
        from brevettiai.settings.parse import build_with_overrides

        settings_class = _resolve_settings_class(cls)
        setting_overrides, flags = parse_overrides(settings_class, argv, reserved=JOB_FLAGS)
        location = resolve_location(arguments, flags)
        from brevettiai._backend import backend_for

        backend = backend_for(location, io)
        info = backend.load_info(cls.__name__)
        info.update(overrides)
        if location.host and not info.get("host_name"):
            info["host_name"] = location.host
        given = info.get("settings")
        if isinstance(given, str):
            given = given.strip()  # blank text has always meant no settings to a job
        try:
            raw_settings = settings_from_text(given or None)
        except ValueError as exc:
            raise SettingsError(f"The job's settings (info.json \"settings\") are not JSON text: {exc}") from None
        unknown: dict[str, Any] = {}
        settings: object = build_with_overrides(settings_class, cast("JSONMapping | None", raw_settings),
                                                setting_overrides, unknown=unknown)
        job = cls(info=info, job_dir=location.job_dir, settings=settings, api_key=location.api_key,
                  cache_path=location.cache_path, io=backend.io, unknown_settings=unknown, backend=backend, argv=argv)
        job._start_environment_capture()
        backend.begin_run(job.run_id)
        job._write_state()
        job.upload_job_output()
        return job

    # ----------------------------------------------------------------------------------------------
    # Attributes

    @property
    def api_key(self) -> str | None:
        """The job's key for the platform (never written to output.json or logs)."""
        return self._api_key

    def __repr__(self) -> str:
        key = "None" if self._api_key is None else "'***'"
        return (f"{type(self).__name__}(id={self.id!r}, name={self.name!r}, job_dir={self.job_dir!r}, "
                f"status={self.state.status!r}, api_key={key})")

    def __getattr__(self, name: str) -> JSONLike:
        # Keys of info.json that the Job does not model stay readable as attributes, as in the original.
        extra = self.__dict__.get("_info_extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ----------------------------------------------------------------------------------------------
    # Storage

    @property
    def temp_dir(self) -> str:
        """The job's local scratch folder: the cache path if given, else a temp dir removed at the end."""
        if self._temp_dir is None:
            if self._cache_path:
                os.makedirs(self._cache_path, exist_ok=True)
                self._temp_dir = self._cache_path
            else:
                import tempfile

                self._temp_dir = tempfile.mkdtemp(prefix=f"brevettiai-job-{self.id}-")
                self._owns_temp_dir = True
            cache_root = os.path.join(self._temp_dir, "cache")
            os.makedirs(cache_root, exist_ok=True)
            self.io.set_cache_root(cache_root)
        return self._temp_dir

    def temp_path(self, *parts: str, dir: bool = False) -> str:
        """A local path under the job's scratch folder; its folder (or itself, `dir=True`) is created."""
        return self._storage_path(self.temp_dir, parts, dir)

    def artifact_path(self, *parts: str, dir: bool = False) -> str:
        """A path under ``<job_dir>/artifacts``; its folder (or itself, `dir=True`) is created."""
        return self._storage_path(self.artifacts_path, parts, dir)

    @property
    def artifacts_path(self) -> str:
        """``<job_dir>/artifacts``: what the job publishes."""
        return io_path.join(self.job_dir, self._ARTIFACTS)

    def _storage_path(self, root: str, parts: Sequence[str], make_dir: bool) -> str:
        full = io_path.safe_join(root, *parts) if parts else root
        self.io.make_dirs(full if make_dir else io_path.dirname(full))
        return full

    def upload_artifact(self, name: str | Sequence[str], payload: Content | os.PathLike[str],
                        is_file: bool = False) -> str:
        """Write `payload` (or copy the local file at `payload` when `is_file`) as an artifact.

        Returns its path relative to the job dir, e.g. ``'artifacts/report.html'``.
        """
        parts = [name] if isinstance(name, str) else list(name)
        target = io_path.safe_join(self.artifacts_path, *parts)
        _log().info("Uploading %s to %s", "/".join(parts), target)
        if is_file:
            if not isinstance(payload, str | os.PathLike):
                raise TypeError(f"upload_artifact(is_file=True) needs the path of a local file; given "
                                f"{type(payload).__name__}")
            self.io.copy(payload, target)
        elif isinstance(payload, os.PathLike):
            raise TypeError("upload_artifact: give is_file=True to upload the file at a path")
        else:
            self.io.write_file(target, payload)
        return io_path.relpath(target, self.job_dir)

    def upload_chart(self, name: str, vegalite: JSONMapping | str) -> str:
        """Save a Vega-Lite chart for the model page (``artifacts/charts/<name>.json``)."""
        import json

        spec = vegalite if isinstance(vegalite, str) else json.dumps(vegalite)
        return self.backend.save_chart(_chart_file_name(name), spec)

    def get_remote_monitor(self) -> RemoteMonitor:
        """A `RemoteMonitor` reporting this job's progress into its metrics (a Keras-style callback)."""
        from brevettiai.interfaces.remote_monitor import RemoteMonitor

        return RemoteMonitor(root=self.host_name, path=self.api_endpoints.get("remote"), api_key=self.api_key,
                             sink=self.backend)

    def get_root_tags(self) -> list[Tag]:
        """The root tags: the platform's tag tree roots, or offline the job's tags without a parent."""
        from brevettiai.datamodel import Tag

        return [Tag.model_validate(t) for t in self.backend.root_tags(self.tags)]

    # ----------------------------------------------------------------------------------------------
    # Metrics and output.json

    def add_output_metric(self, key: str, value: object) -> None:
        """Record one result metric in output.json's ``output`` (written at the next upload)."""
        self.output_metrics[key] = value

    def add_output_metrics(self, metrics: Mapping[str, object]) -> None:
        """Record several result metrics in output.json's ``output``."""
        self.output_metrics.update(metrics)

    def log_metrics(self, step: int, **values: float) -> None:
        """Record progress metrics at a step: sent to the platform in batches, or offline kept in
        ``<job_dir>/metrics.jsonl``."""
        self.backend.log_metrics(step, values)

    def flush_metrics(self) -> None:
        """Write buffered progress metrics (offline: append to ``<job_dir>/metrics.jsonl``), or wait until the
        platform has them."""
        self.backend.flush_metrics()

    def _start_environment_capture(self) -> None:
        from brevettiai._environment import start_capture

        self._environment = start_capture(_source_path(type(self)))

    def _environment_now(self, wait: float | None) -> dict[str, Any]:
        if self._environment is None:
            self._start_environment_capture()
        return self._environment.result(timeout=wait)

    def upload_job_output(self, path: str = "output.json") -> str:
        """Write ``artifacts/output.json`` (metrics, environment, job record); returns its relative path."""
        import json

        from brevettiai._output import output_document

        wait = 5.0 if self.state.is_terminal else 0.0
        document = output_document(self, self._environment_now(wait))
        target = io_path.safe_join(self.artifacts_path, path)
        _log().info("Uploading output.json to %s", target)
        self.io.write_file(target, json.dumps(document, indent=2, default=str))
        return io_path.relpath(target, self.job_dir)

    def _write_state(self) -> None:
        self.backend.record_state(self.state)

    # ----------------------------------------------------------------------------------------------
    # Lifecycle

    def run(self) -> str | None:
        """The job's work; override it. Returns the path of the model artifact, or None."""
        return None

    def start(self, complete_job: bool = True) -> str | None:
        """Mark running, write output.json, call `run`, then complete; failures and kills are recorded.

        An exception in `run` marks the job failed and is re-raised; ``sys.exit(n)`` with n != 0 marks
        it failed with code n; SIGTERM/SIGINT mark it killed.
        """
        self._mark_running()
        self.upload_job_output()
        with self._signals_recorded():
            try:
                result = self.run()
            except BaseException as exc:
                self._record_end(exc)
                raise
        if complete_job:
            self.complete(package_path=result)
        return result

    def _mark_running(self) -> None:
        if self.state.is_terminal:
            raise JobStateError(f"job {self.id} is already {self.state.status}; start a new run with Job.init")
        if self.state.status != "running":
            self.state.status = "running"
            self.state.started = _now()
            self._write_state()
            atexit.register(_fail_if_still_running, weakref.ref(self))
            self.backend.job_started()
            self._start_system_metrics()

    def _start_system_metrics(self) -> None:
        from brevettiai._env import env_value

        wanted = env_value("system_metrics", True) if self.system_metrics is None else self.system_metrics
        if not wanted or self._system_sampler is not None:
            return
        from brevettiai._system_metrics import DEFAULT_INTERVAL, SystemSampler

        sampler = SystemSampler(self.backend.log_metrics, env_value("system_metrics_interval", DEFAULT_INTERVAL))
        sampler.start()
        self._system_sampler = sampler

    def _stop_system_metrics(self) -> None:
        sampler, self._system_sampler = self._system_sampler, None
        if sampler is not None:
            sampler.stop()

    def complete(self, package_path: str | None = None, tmp_package_path: str | None = None) -> str | None:
        """Mark the job completed (once; a second call does nothing) with the model at `package_path`.

        `tmp_package_path`, a local file outside the artifacts, is first copied to
        ``artifacts/saved_model.tar.gz``. Returns the model path relative to the job dir, or None.
        """
        if self.state.is_terminal:
            _log().debug("Job %s is already %s; complete() ignored", self.id, self.state.status)
            return self.state.model_path
        model_path = self._model_path(package_path, tmp_package_path)
        self._finish("completed", model_path=model_path)
        _log().info("Job completed: modelPath=%s", model_path or "")
        return model_path

    complete_job = complete  # the original SDK's name

    def _model_path(self, package_path: str | None, tmp_package_path: str | None) -> str | None:
        if tmp_package_path is not None:
            if not _is_under(tmp_package_path, self.artifacts_path):
                return self.upload_artifact("saved_model.tar.gz", tmp_package_path, is_file=True)
            package_path = tmp_package_path
        if package_path is None:
            return None
        relative = io_path.relpath(str(package_path), self.job_dir) if _is_under(package_path, self.job_dir) \
            else str(package_path)
        if io_path.is_url(relative) or relative.startswith(("/", "..")):
            raise StoragePathError(f"model path {package_path!r} is not inside the job directory {self.job_dir}: "
                                   f"save the model under job.artifact_path(...)")
        return relative

    def fail(self, error: BaseException | str, code: int | None = None) -> None:
        """Mark the job failed with an error (exception or message) and optional exit code."""
        from brevettiai._state import ExitInfo

        if isinstance(error, BaseException):
            import traceback

            info = ExitInfo(code=code, exception=type(error).__name__, message=str(error),
                            traceback="".join(traceback.format_exception(error)))
        else:
            info = ExitInfo(code=code, message=str(error))
        self._finish("failed", exit_info=info)

    def _record_end(self, exc: BaseException) -> None:
        if self.state.is_terminal:
            return
        from brevettiai._state import ExitInfo

        if isinstance(exc, _Killed):
            import signal

            self._finish("killed", exit_info=ExitInfo(code=128 + exc.signum, signal=signal.Signals(exc.signum).name))
        elif isinstance(exc, KeyboardInterrupt):
            self._finish("killed", exit_info=ExitInfo(code=130, signal="SIGINT"))
        elif isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if code == 0:
                self.complete()
            else:
                self.fail(exc, code=code)
        else:
            self.fail(exc)

    def _finish(self, status: Status, *, model_path: str | None = None,
                exit_info: ExitInfo | None = None) -> None:
        self.state.status = status
        self.state.finished = _now()
        self.state.model_path = model_path
        self.model_path = model_path
        self.state.exit = exit_info
        try:
            self._stop_system_metrics()  # its last sample goes out with the job's other metrics
            self.backend.close()  # every metric is delivered (or kept) before the final state is sent
            self.upload_job_output()
        finally:
            self._write_state()
            self._cleanup_temp_dir()
        if status != "completed":
            _log().warning("Job %s %s%s", self.id, status, f": {exit_info.message or exit_info.signal}" if exit_info else "")

    def _cleanup_temp_dir(self) -> None:
        if self._owns_temp_dir and self._temp_dir:
            import shutil

            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self.io.set_cache_root(None)
            self._temp_dir, self._owns_temp_dir = None, False

    def _signals_recorded(self) -> _SignalScope:
        return _SignalScope()

    def __enter__(self) -> Job:
        self._mark_running()
        self.upload_job_output()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.complete()
        else:
            self._record_end(exc)


class _SignalScope:
    """Turns SIGTERM/SIGINT into a `_Killed` exception in the main thread while a job runs."""

    def __enter__(self) -> _SignalScope:
        import signal

        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise _Killed(signum)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if isinstance(exc, _Killed):
            if exc.signum == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise SystemExit(128 + exc.signum) from None


def _fail_if_still_running(job_ref: weakref.ref[Job]) -> None:
    """At interpreter exit, a job still marked running was abandoned: record that it failed."""
    job = job_ref()
    if job is not None and job.state.status == "running":
        job.fail("the process exited while the job was running (complete() was never called)", code=1)


def _now() -> str:
    from brevettiai._state import now

    return now()


def _chart_file_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._")
    if not cleaned:
        raise StoragePathError(f"chart name {name!r} has no usable characters: use letters, digits, '-' or '_'")
    return cleaned


def _is_under(path: str, root: str) -> bool:
    path, root = str(path).rstrip("/"), str(root).rstrip("/")
    return path == root or path.startswith(root + "/")


def _source_path(cls: type) -> str | None:
    """The file that defines a Job subclass (for its git state); None for the base Job."""
    if cls is Job:
        return None
    module = sys.modules.get(cls.__module__)
    return getattr(module, "__file__", None)


__all__ = ["Job", "SettingsError", "JobNotFoundError"]
