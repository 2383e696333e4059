"""`PlatformAPI` (also `BrevettiAI`): the platform's web API for a logged-in user.

Log in with a username and password (arguments or ``BREVETTI_AI_USER`` / ``BREVETTI_AI_PW``), a
personal access token or user token (``token=`` or ``BREVETTI_AI_TOKEN``), or the token saved by an
earlier login; then list, create, start, stop and delete
datasets, tags, model types, models and reports, read their artifacts, metrics and charts, and
upload or download files. Every request goes through `PlatformClient` (timeouts, retries, typed
errors); nothing secret is ever put in a URL, and saved logins hold only a token and its expiry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import re
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from brevettiai._env import SDK_ENVIRONMENT, env_value
from brevettiai.contract import scheme
from brevettiai.contract.jsontypes import JSONMapping, JSONObject
from brevettiai.contract.records import LoginRequest
from brevettiai.contract.requests import (
    DatasetRequest,
    ModelRequest,
    ModelTypeRequest,
    ReportRequest,
    TagRequest,
    build_body,
)
from brevettiai.datamodel.types import Dataset, Tag, _WireModel
from brevettiai.datamodel.web import FileEntry, Model, ModelType, Report, Token, User
from brevettiai.errors import (
    PlatformAuthError,
    PlatformConfigError,
    PlatformError,
    PlatformNotFoundError,
    PlatformUnavailableError,
    PlatformValidationError,
)
from brevettiai.io.atomic import atomic_write
from brevettiai.platform._http import PlatformClient, normalize_host

if TYPE_CHECKING:
    from brevettiai.io import IoTools
    from brevettiai.job import Job

log = logging.getLogger(__name__)

USER_ENV = SDK_ENVIRONMENT["username"].names[0]
PASSWORD_ENV = SDK_ENVIRONMENT["password"].names[0]
PAGE_SIZE = 100
_CHUNK = 1 << 20

R = TypeVar("R", bound=_WireModel)
RecordRef = str | JSONMapping | _WireModel  # a platform record, its dict, or its id
RecordRefs = RecordRef | Iterable[RecordRef] | None  # one or several of them


@dataclasses.dataclass(frozen=True)
class _Kind:
    """Where one kind of record lives in the web API and which class reads it."""

    path: str
    record: type[_WireModel]
    server_filters: tuple[str, ...] = ("name",)


_DATASETS = _Kind("/api/datasets", Dataset)
_TAGS = _Kind("/api/tags", Tag, ())
_MODELTYPES = _Kind("/api/modeltypes", ModelType)
_MODELS = _Kind("/api/models", Model, ("name", "status", "q"))
_REPORTS = _Kind("/api/reports", Report, ("name", "status", "q"))


class PlatformAPI:
    """A client logged in to a platform's web API (the original SDK's `BrevettiAI`)."""

    def __init__(self, username: str | None = None, password: str | None = None, host: str | None = None,
                 remember_me: bool = True, token: str | None = None, *, timeout: float = 30.0,
                 retries: int = 5) -> None:
        host = host or env_value("host")
        if not host:
            raise PlatformConfigError("no platform host given: pass host='https://...' or set BREVETTI_AI_HOST")
        self.client = PlatformClient(host, timeout=timeout, retries=retries)
        self.host: str = self.client.host
        self.remember_me = remember_me
        self.user: User
        self._io: Any = None
        if token is None and not (username and password):  # explicit credentials win over the environment's token
            token = env_value("token")
        username = username or env_value("username")
        if password is None and username is not None:
            password = env_value("password")
        try:
            if token:
                self._use_token(token)
            elif username and password:
                self._login(username, password)
            else:
                self._use_saved_token(username)
        except BaseException:
            self.client.close()
            raise

    # -- login ----------------------------------------------------------------------------------

    def _login(self, username: str, password: str) -> None:
        """Exchange a username and password for a user token (and save it when `remember_me`)."""
        login = LoginRequest(username=username, password=password).model_dump(by_alias=True)
        token = Token.model_validate(self.client.post("/api/auth/token", json=login).json())
        self.client.set_token(token.access_token)
        self.user = token.user
        log.info("Logged in to %s as %s", self.host, self.user.username)
        if self.remember_me:
            saved = {"host": self.host, "username": self.user.username or username,
                     "accessToken": token.access_token, "expiresAt": token.expires_at or None}
            for name in {username, "default"}:
                _write_private_json(self._token_file(name), saved)

    def _use_token(self, token: str) -> None:
        """Use a user token given directly; the platform must accept it."""
        self.client.set_token(token)
        self.user = self.get_userinfo()

    def _use_saved_token(self, username: str | None) -> None:
        """Log in with the token an earlier login saved; a stale one is deleted with a clear error."""
        path = self._token_file(username or "default")
        how = (f"log in with PlatformAPI(username=..., password=..., host={self.host!r}) or set "
               f"{USER_ENV} and {PASSWORD_ENV}")
        try:
            saved = json.loads(path.read_text())
            token = saved["accessToken"]
        except FileNotFoundError:
            who = f" as {username}" if username else ""
            raise PlatformAuthError(f"not logged in to {self.host}{who}: {how}") from None
        except (OSError, ValueError, KeyError, TypeError):
            _remove(path)
            raise PlatformAuthError(f"the saved login {path} was unreadable and has been deleted: {how}") from None
        if _expired(saved.get("expiresAt")):
            _remove(path)
            raise PlatformAuthError(f"the saved login for {saved.get('username') or 'default'} on {self.host} "
                                    f"expired at {saved.get('expiresAt')} and has been deleted: {how}")
        try:
            self._use_token(token)
        except PlatformAuthError as exc:
            _remove(path)
            self.client.set_token(None)
            raise PlatformAuthError(f"the platform at {self.host} rejected the saved login {path} "
                                    f"(deleted): {how}", exc.status, exc.detail) from None
        log.info("Using the saved login for %s on %s", self.user.username, self.host)

    def _token_file(self, name: str) -> Path:
        """Where a login on this host is saved: ~/.brevetti/<host>/<username or default>.json."""
        return token_folder(self.host) / f"{_sanitise(name)}.json"

    def logout(self) -> None:
        """Revoke the token on the platform and forget its saved copies."""
        token = self.client.token
        if token is None:
            return
        try:
            self.client.post("/api/auth/logout", expected=(401,))
        finally:
            folder = token_folder(self.host)
            for path in folder.glob("*.json") if folder.is_dir() else ():
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(path.read_text()).get("accessToken") == token:
                        _remove(path)
            self.client.set_token(None)
            log.info("Logged out of %s", self.host)

    def get_userinfo(self) -> User:
        """The logged-in user as the platform describes it now."""
        return User.model_validate(self.client.get("/api/auth/me").json())

    def close(self) -> None:
        """Close the connection pool (the login stays valid)."""
        self.client.close()

    def __enter__(self) -> PlatformAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        user = getattr(getattr(self, "user", None), "username", None)
        return f"{type(self).__name__}(host={self.host!r}, user={user!r})"

    @property
    def io(self) -> IoTools:
        """An `IoTools` reading and writing ``brevettiai://<id>/...`` on this platform as this user."""
        if self._io is None:
            import fsspec

            from brevettiai.io import IoTools
            from brevettiai.platform.filesystem import PlatformFileSystem

            fsspec.register_implementation(scheme.PROTOCOL, PlatformFileSystem, clobber=True)
            # skip_instance_cache: fsspec would otherwise share one filesystem between tokens.
            self._io = IoTools(storage_options={scheme.PROTOCOL: {"client": self.client, "skip_instance_cache": True}})
        return self._io

    # -- generic listing ------------------------------------------------------------------------

    def _get_one(self, kind: _Kind, id: Any) -> Any:
        """One record of a kind by id."""
        return kind.record.model_validate(self.client.get(f"{kind.path}/{_quote(_id(id))}").json())

    def _get_list(self, kind: _Kind, filters: Mapping[str, Any], query: Mapping[str, str | None] | None = None) -> list[Any]:
        """Every record of a kind matching the filters (the server narrows what it can) and the `query`
        parameters (filter, sort) the server applies."""
        _check_filters(kind.record, filters)
        params = {k: v for k, v in filters.items() if k in kind.server_filters and v is not None}
        params.update({k: v for k, v in (query or {}).items() if v})
        records = [kind.record.model_validate(item) for item in self._pages(kind.path, params)]
        return [r for r in records if _matches(r, filters)]

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following offset/limit paging (plain lists or {"items", "total"})."""
        offset, seen = 0, set[str]()
        while True:
            body = self.client.get(path, params={**params, "offset": offset, "limit": PAGE_SIZE}).json()
            items, total = (body.get("items", []), body.get("total")) if isinstance(body, dict) else (body, None)
            new = [item for item in items if item.get("id") not in seen]
            seen.update(item.get("id") for item in new)
            yield from new
            offset += len(items)
            if not new or (total is not None and offset >= total) or (total is None and len(items) != PAGE_SIZE):
                return

    # -- getters --------------------------------------------------------------------------------

    def get_dataset(self, id: str | None = None, **filters: object) -> Dataset | list[Dataset]:
        """One dataset by id, or every dataset whose attributes equal the filters (e.g. ``name=``)."""
        return self._get_one(_DATASETS, id) if id is not None else self._get_list(_DATASETS, filters)

    def get_tag(self, id: str | None = None) -> Tag | list[Tag]:
        """One tag (with its subtree) by id, or the roots of the tag tree."""
        if id is not None:
            return self._get_one(_TAGS, id)
        body = self.client.get(_TAGS.path).json()
        return [Tag.model_validate(t) for t in (body.get("items", []) if isinstance(body, dict) else body)]

    def get_modeltype(self, id: str | None = None, **filters: object) -> ModelType | list[ModelType]:
        """One model type by id, or every model type whose attributes equal the filters."""
        return self._get_one(_MODELTYPES, id) if id is not None else self._get_list(_MODELTYPES, filters)

    def get_model(self, id: str | None = None, filter: str | None = None, sort: str | None = None,
                  **filters: object) -> Model | list[Model]:
        """One model by id, or every model whose attributes equal the filters and that matches `filter`,
        the platform's run filter, run in its database, e.g.
        ``web.get_model(filter='settings.training.epochs > 10 and metrics.test_accuracy >= 0.8')``;
        newest first, or by `sort` (e.g. ``"metrics.test_accuracy desc"``). A filter the platform cannot
        use raises PlatformValidationError naming the position and the field, with close names suggested."""
        if id is not None:
            return self._get_one(_MODELS, id)
        return self._get_list(_MODELS, filters, {"filter": filter, "sort": sort})

    def get_report(self, id: str | None = None, filter: str | None = None, sort: str | None = None,
                   **filters: object) -> Report | list[Report]:
        """One report by id, or every report matching the attribute filters and `filter` (as `get_model`)."""
        if id is not None:
            return self._get_one(_REPORTS, id)
        return self._get_list(_REPORTS, filters, {"filter": filter, "sort": sort})

    # -- creators -------------------------------------------------------------------------------

    def create_dataset(self, name: str, reference: str = "", notes: str = "", locked: bool = False,
                       tags: Iterable[RecordRef] = ()) -> Dataset:
        """Create a dataset."""
        body = build_body(DatasetRequest, name=name, reference=reference, notes=notes, locked=locked,
                          tag_ids=_ids(tags))
        return Dataset.model_validate(self.client.post(_DATASETS.path, json=body).json())

    def create_tag(self, name: str, parent: RecordRef | None = None) -> Tag:
        """Create a tag, at the root or below `parent` (a Tag or an id)."""
        body = build_body(TagRequest, name=name, parent_id=None if parent is None else _id(parent))
        return Tag.model_validate(self.client.post(_TAGS.path, json=body).json())

    def create_modeltype(self, name: str, command: str | Iterable[str],
                         settings_schema: type | Mapping[str, object] | None = None,
                         working_dir: str | None = None, defaults: Mapping[str, object] | None = None,
                         short_description: str = "", kind: str = "model") -> ModelType:
        """Create a model type; `settings_schema` is a settings class or a form schema dict."""
        body = build_body(ModelTypeRequest, name=name,
                          command=shlex.split(command) if isinstance(command, str) else list(command),
                          settings_schema=_schema_dict(settings_schema), working_dir=working_dir,
                          defaults=_jsonable(dict(defaults or {})), short_description=short_description, kind=kind)
        return ModelType.model_validate(self.client.post(_MODELTYPES.path, json=body).json())

    def create_model(self, name: str, datasets: RecordRefs, settings: object = None,
                     model_type: RecordRef | None = None, tags: Iterable[RecordRef] = ()) -> Model:
        """Create a model; the answer's `api_key` is the job key, shown this once."""
        optional = {} if model_type is None else {"model_type_id": _id(model_type)}
        body = build_body(ModelRequest, name=name, settings=_settings_config(settings), dataset_ids=_ids(datasets),
                          tag_ids=_ids(tags), **optional)
        return Model.model_validate(self.client.post(_MODELS.path, json=body).json())

    def create_testreport(self, name: str, model: RecordRef, datasets: RecordRefs,
                          report_type: RecordRef | None = None, settings: object = None,
                          tags: Iterable[RecordRef] = ()) -> Report:
        """Create a test report of `model` on `datasets`; its `api_key` is shown this once."""
        optional = {} if report_type is None else {"model_type_id": _id(report_type)}
        body = build_body(ReportRequest, name=name, parent_id=_id(model), settings=_settings_config(settings),
                          dataset_ids=_ids(datasets), tag_ids=_ids(tags), **optional)
        return Report.model_validate(self.client.post(_REPORTS.path, json=body).json())

    # -- running jobs ---------------------------------------------------------------------------

    def _job_kind(self, obj: Any) -> _Kind:
        """The API collection of a model or report (a bare id is looked up: models, then reports)."""
        if isinstance(obj, Report) or getattr(obj, "kind", None) == "report":
            return _REPORTS
        if isinstance(obj, Model):
            return _MODELS
        try:
            self.client.get(f"{_MODELS.path}/{_quote(_id(obj))}")
            return _MODELS
        except PlatformNotFoundError:
            self.client.get(f"{_REPORTS.path}/{_quote(_id(obj))}")
            return _REPORTS

    def _start(self, obj: Any, launch: bool = True) -> Model | Report:
        """Start a model or report (on the platform's runner when `launch`); the answer holds the new key."""
        kind = self._job_kind(obj)
        answer = self.client.post(f"{kind.path}/{_quote(_id(obj))}/start",
                                  params=None if launch else {"launch": "false"}).json()
        return kind.record.model_validate(answer)  # type: ignore[return-value]

    def start_model_training(self, model: RecordRef) -> Model:
        """Start a model's job on the platform's runner; the answer carries the newly issued key."""
        return self._start(model)  # type: ignore[return-value]

    def start_report(self, report: RecordRef) -> Report:
        """Start a report's job on the platform's runner; the answer carries the newly issued key."""
        return self._start(report)  # type: ignore[return-value]

    def stop_model_training(self, model: RecordRef) -> Model | Report:
        """Ask a running model (or report) job to stop."""
        kind = self._job_kind(model)
        return kind.record.model_validate(  # type: ignore[return-value]
            self.client.post(f"{kind.path}/{_quote(_id(model))}/stop", idempotent=True).json())

    def initialize_training(self, model: RecordRef, job_type: type[Job] | None = None, submit: bool = False) -> Job:
        """Start a model and return its `Job` (of `job_type`).

        By default (``submit=False``, the original SDK's ``submitToCloud=False``) the platform only
        issues a new key and the job runs in this process: call ``job.start()``. With ``submit=True``
        the platform's runner launches it; the returned Job then only reads its settings and files.
        """
        return self._initialize(model, job_type, submit)

    def initialize_report(self, report: RecordRef, job_type: type[Job] | None = None, submit: bool = False) -> Job:
        """Start a report and return its `Job`, run here unless `submit` (see `initialize_training`)."""
        return self._initialize(report, job_type, submit)

    def _initialize(self, obj: RecordRef, job_type: type[Job] | None, submit: bool) -> Job:
        """The Job of a model or report after starting it (launched by the platform when `submit`)."""
        record = self._start(obj, launch=submit)
        if not record.has_api_key:
            raise PlatformError(f"starting {record.kind} {record.id} on {self.host} returned no job key")
        if job_type is None:
            from brevettiai.job import Job

            job_type = Job
        return job_type.init(job_id=record.id, api_key=record.api_key, host=self.host, argv=[])

    # -- results --------------------------------------------------------------------------------

    def get_artifacts(self, obj: RecordRef, prefix: str = "", recursive: bool = False) -> list[FileEntry]:
        """The artifacts of a model or report below `prefix` (folders too, unless `recursive`)."""
        kind = self._job_kind(obj)
        params = {"prefix": prefix, "recursive": "true" if recursive else "false"}
        body = self.client.get(f"{kind.path}/{_quote(_id(obj))}/artifacts", params=params).json()
        return [FileEntry.model_validate(item) for item in body]

    def get_metrics(self, model: RecordRef, names: Iterable[str] | None = None, since: float | None = None, *,
                    start_step: int | None = None, end_step: int | None = None,
                    max_points: int | None = None) -> dict[str, list[list[float]]]:
        """Progress series of a model or report: ``{"loss": [[step, value, time], ...]}``.

        A series longer than `max_points` (server default 2,000, at most 100,000) comes back as min/max
        step buckets; ask for a step range (`start_step`, `end_step`) to get its points one by one.
        """
        kind = self._job_kind(model)
        params: dict[str, Any] = {}
        if names is not None:
            params["names"] = ",".join(names)
        for key, value in (("since", since), ("start_step", start_step), ("end_step", end_step),
                           ("max_points", max_points)):
            if value is not None:
                params[key] = value
        body = self.client.get(f"{kind.path}/{_quote(_id(model))}/metrics", params=params).json()
        return dict(body.get("series", {}))

    def get_charts(self, model: RecordRef) -> dict[str, JSONObject]:
        """The Vega-Lite charts a model or report uploaded, by name."""
        kind = self._job_kind(model)
        return dict(self.client.get(f"{kind.path}/{_quote(_id(model))}/charts").json())

    # -- deleting -------------------------------------------------------------------------------

    def delete(self, obj: Dataset | Tag | Model | Report | ModelType) -> None:
        """Delete a dataset, tag (with its subtree), model, report or model type."""
        kinds = ((Dataset, _DATASETS), (Tag, _TAGS), (Report, _REPORTS), (Model, _MODELS),
                 (ModelType, _MODELTYPES))
        kind = next((k for cls, k in kinds if isinstance(obj, cls)), None)
        if kind is None:
            raise TypeError(f"delete() takes a Dataset, Tag, Model, Report or ModelType record; "
                            f"given {type(obj).__name__} (fetch it first, e.g. web.get_model(id))")
        self.client.delete(f"{kind.path}/{_quote(obj.id)}")
        log.info("Deleted %s %s (%s)", type(obj).__name__.lower(), obj.id, getattr(obj, "name", ""))

    # -- files ----------------------------------------------------------------------------------

    def ls(self, resource: RecordRef, path: str = "", recursive: bool = False) -> list[JSONObject]:
        """Files (and, unless recursive, folders) of a dataset or job below `path`."""
        url = f"/api/ls/{_quote(_id(resource))}/{_quote(path.strip('/'))}"
        return list(self.client.get(url, params={"recursive": "true"} if recursive else None).json())

    def upload_file(self, resource: RecordRef, path: str, local_file: str | os.PathLike[str],
                    progress: Callable[[int], object] | None = None) -> JSONObject:
        """Upload one local file to ``<resource>/<path>``, streamed from disk and checked by md5."""
        source = _FileChunks(local_file, progress)
        url = f"/api/files/{_quote(_id(resource))}/{_quote(path.strip('/'))}"
        answer = self.client.put(url, content=source, headers={"Content-Length": str(source.size)}).json()
        if answer.get("md5") and source.md5 and answer["md5"] != source.md5:
            raise PlatformValidationError(f"PUT {url}: the platform stored md5 {answer['md5']} but "
                                          f"{local_file} has md5 {source.md5} (changed while uploading?)")
        return dict(answer)

    def download_url(self, url: str | FileEntry, dst: str | os.PathLike[str] | None = None) -> bytes | str:
        """Download a URL or artifact (`/api/...` paths are on this platform): bytes, or the path written."""
        url = url.link if isinstance(url, FileEntry) else str(url)
        client, target = self._client_for(url)
        try:
            if dst is None:
                return client.get(target).content
            return self._download_to(client, target, Path(dst), url)
        finally:
            if client is not self.client:
                client.close()

    def _client_for(self, url: str) -> tuple[PlatformClient, str]:
        """This platform's client for its own URLs; a token-less one for any other host."""
        if "://" not in url:
            return self.client, "/" + url.lstrip("/")
        parsed, own = httpx.URL(url), httpx.URL(self.host)
        if (parsed.scheme, parsed.host, parsed.port) == (own.scheme, own.host, own.port):
            return self.client, parsed.raw_path.decode("ascii")
        origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        return PlatformClient(origin, None, retries=self.client.retries), parsed.raw_path.decode("ascii")

    def _download_to(self, client: PlatformClient, target: str, dst: Path, url: str) -> str:
        """Stream a download into `dst` (a file, or an existing folder), atomically, with retries."""
        if dst.is_dir():
            dst = dst / (Path(httpx.URL(url).path).name or "download")
        dst.parent.mkdir(parents=True, exist_ok=True)
        attempts = client.retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(client.retry_delay(attempt))
            try:
                with client.stream("GET", target, follow_redirects=True) as response:
                    if response.status_code in (500, 502, 503, 504) and attempt + 1 < attempts:
                        continue
                    client.check("GET", target, response)
                    _write_atomically(dst, response.iter_bytes(_CHUNK))
                    return str(dst)
            except httpx.TransportError as exc:
                if attempt + 1 == attempts:
                    raise PlatformUnavailableError(f"downloading {url} failed after {attempts} attempts: "
                                                   f"{type(exc).__name__}: {exc}") from exc
                log.debug("download of %s failed (%s); retrying", url, exc)
        raise PlatformUnavailableError(f"downloading {url} failed after {attempts} attempts")


BrevettiAI = PlatformAPI


# -- helpers --------------------------------------------------------------------------------------


def token_folder(host: str) -> Path:
    """The folder holding saved logins for a host: ~/.brevetti/<host without scheme>."""
    return Path.home() / ".brevetti" / _sanitise(normalize_host(host).split("://", 1)[1])


def _sanitise(text: str) -> str:
    """A file name made of letters, digits, '.', '-' and '_' only."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("._") or "default"


def _write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON readable by this user only (0600 in a 0700 folder), atomically."""
    for folder in (path.parent.parent, path.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
    payload = json.dumps(dict(data)).encode()
    atomic_write(path, lambda handle: handle.write(payload), mode=0o600)


def _remove(path: Path) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _expired(expires_at: Any) -> bool:
    """True when an ISO timestamp is in the past (a missing one never expires here)."""
    if not expires_at:
        return False
    try:
        when = datetime.datetime.fromisoformat(str(expires_at))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when <= datetime.datetime.now(datetime.UTC)


def _write_atomically(dst: Path, chunks: Iterable[bytes]) -> None:
    """Write chunks to a temporary file beside `dst`, then move it into place."""
    def fill(handle: BinaryIO) -> None:
        for chunk in chunks:
            handle.write(chunk)

    atomic_write(dst, fill)


def _quote(text: str) -> str:
    """A path or id quoted for a URL, keeping its slashes."""
    return quote(str(text), safe="/")


def _id(obj: Any) -> str:
    """The id of a record, a dict with an "id", or an id given as is."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        return str(obj["id"])
    ident = getattr(obj, "id", None)
    if ident is None:
        raise TypeError(f"expected a platform record or an id; given {type(obj).__name__}")
    return str(ident)


def _ids(objs: Any) -> list[str]:
    """Ids of one record/id or of an iterable of them."""
    if objs is None:
        return []
    if isinstance(objs, (str, Mapping)) or hasattr(objs, "id"):
        return [_id(objs)]
    return [_id(o) for o in objs]


def _check_filters(record: type[_WireModel], filters: Mapping[str, Any]) -> None:
    """Refuse filters naming no field of the record (a typo would silently match nothing)."""
    known = {name for name in record.model_fields} | {
        info.alias for info in record.model_fields.values() if info.alias}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise TypeError(f"unknown filter(s) {', '.join(unknown)} for {record.__name__}; "
                        f"accepted: {', '.join(sorted(record.model_fields))}")


def _matches(record: _WireModel, filters: Mapping[str, Any]) -> bool:
    """True when every filtered attribute of the record equals the given value."""
    return all(record[key] == value for key, value in filters.items())


def _jsonable(value: Any) -> Any:
    """Plain JSON types for a value (enums, paths, dates and models converted)."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)


def _settings_config(settings: Any) -> Any:
    """Settings as the platform takes them: a dict (from a settings object, pydantic model or dict) or JSON text."""
    if settings is None:
        return {}
    if isinstance(settings, str):
        return settings
    if isinstance(settings, Mapping):
        return _jsonable(dict(settings))
    if hasattr(settings, "get_config"):
        return _jsonable(settings.get_config())
    if isinstance(settings, BaseModel):
        return settings.model_dump(mode="json")
    from brevettiai.settings import to_config

    return _jsonable(to_config(settings))


def _schema_dict(schema: Any) -> dict[str, Any]:
    """A settings form dict from a settings class (its `get_schema()`), a schema builder or a dict."""
    if schema is None:
        return {"fields": [], "presets": {}}
    if isinstance(schema, type):
        if hasattr(schema, "get_schema"):
            schema = schema.get_schema()
        else:
            from brevettiai.settings import form_schema

            schema = form_schema(schema)
    nested = getattr(schema, "schema", None)
    if nested is not None and isinstance(schema, dict):  # a form object that is also a dict
        return _jsonable(nested)
    if isinstance(schema, Mapping):
        return _jsonable(dict(schema))
    raise TypeError(f"settings_schema must be a settings class or a form schema dict; given {type(schema).__name__}")


class _FileChunks:
    """A local file as a re-iterable request body: each iteration (each retry) starts over.

    It reads the file in chunks (never whole), reports progress (taking back what a failed attempt
    reported) and computes the md5 of what it sent.
    """

    def __init__(self, path: str | os.PathLike[str], progress: Callable[[int], object] | None = None) -> None:
        self.path = os.fspath(path)
        self.size = os.path.getsize(self.path)
        self.progress = progress
        self.md5: str | None = None
        self._reported = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.progress and self._reported:
            self.progress(-self._reported)
        self._reported = 0
        digest = hashlib.md5(usedforsecurity=False)
        with open(self.path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                if self.progress:
                    self.progress(len(chunk))
                    self._reported += len(chunk)
                yield chunk
        self.md5 = digest.hexdigest()


__all__ = ["BrevettiAI", "PlatformAPI", "PlatformConfigError", "token_folder"]
