"""PlatformAPI against the real platform server (the `platform_server` fixture)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import stat
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from platform_fixture import admin_name
from pydantic import Field

from brevettiai.datamodel import Dataset, Tag
from brevettiai.datamodel.web import FileEntry, Model, ModelType, Report, User
from brevettiai.errors import PlatformAuthError, PlatformNotFoundError, PlatformValidationError
from brevettiai.job import Job
from brevettiai.platform import web_api
from brevettiai.platform._http import PlatformClient
from brevettiai.platform.web_api import BrevettiAI, PlatformAPI, PlatformConfigError, token_folder
from brevettiai.settings import JobSettings

pytestmark = pytest.mark.usefixtures("home")


class TrainSettings(JobSettings):
    epochs: int = Field(3, ge=1, description="Passes over the data")
    rate: float = 0.1
    classes: list[str] = ["ok", "defect"]




def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"




@pytest.fixture
def model_type(web: PlatformAPI) -> ModelType:
    # A job that waits to be stopped: started models never finish on their own during a test.
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    return web.create_modeltype(_name("trainer"), command, settings_schema=TrainSettings,
                                short_description="test trainer")


# -- login ------------------------------------------------------------------------------------------


def test_login_with_arguments_saves_only_a_private_token(platform_server: Any, home: Path) -> None:
    web = PlatformAPI(admin_name(platform_server), platform_server.admin_password, host=platform_server.url)
    assert isinstance(web.user, User) and web.user.username == admin_name(platform_server)
    assert web.user["firstName"] == web.user.first_name
    folder = token_folder(platform_server.url)
    assert folder.parent == home / ".brevetti"
    saved = folder / f"{admin_name(platform_server)}.json"
    assert saved.is_file() and (folder / "default.json").is_file()
    if os.name == "posix":
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    text = saved.read_text()
    assert platform_server.admin_password not in text
    data = json.loads(text)
    assert data["accessToken"] == web.client.token and data["expiresAt"]
    assert set(data) <= {"host", "username", "accessToken", "expiresAt"}
    assert "***" in repr(web.client) and web.client.token not in repr(web)


def test_login_from_environment(platform_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREVETTI_AI_HOST", platform_server.url)
    monkeypatch.setenv("BREVETTI_AI_USER", admin_name(platform_server))
    monkeypatch.setenv("BREVETTI_AI_PW", platform_server.admin_password)
    web = BrevettiAI(remember_me=False)
    assert web.user.username == admin_name(platform_server)
    assert web.host == platform_server.url.rstrip("/")
    assert not (Path.home() / ".brevetti").exists()


def test_saved_token_is_reused_until_logout(platform_server: Any) -> None:
    first = PlatformAPI(admin_name(platform_server), platform_server.admin_password, host=platform_server.url)
    again = PlatformAPI(host=platform_server.url)
    assert again.client.token == first.client.token and again.user.id == first.user.id
    by_name = PlatformAPI(username=admin_name(platform_server), host=platform_server.url)
    assert by_name.user.id == first.user.id
    first.logout()
    assert not list(token_folder(platform_server.url).glob("*.json"))
    with pytest.raises(PlatformAuthError, match="not logged in"):
        PlatformAPI(host=platform_server.url)
    with pytest.raises(PlatformAuthError):  # the token is revoked on the platform too
        PlatformClient(platform_server.url, again.client.token).get("/api/auth/me")


def test_rejected_or_expired_saved_token_is_deleted_with_a_clear_error(platform_server: Any) -> None:
    PlatformAPI(admin_name(platform_server), platform_server.admin_password, host=platform_server.url)
    saved = token_folder(platform_server.url) / "default.json"
    data = json.loads(saved.read_text())
    saved.write_text(json.dumps({**data, "accessToken": "bu_not-a-real-token"}))
    with pytest.raises(PlatformAuthError, match="BREVETTI_AI_USER") as rejected:
        PlatformAPI(host=platform_server.url)
    assert "rejected" in str(rejected.value) and not saved.exists()
    expired = token_folder(platform_server.url) / f"{admin_name(platform_server)}.json"
    expired.write_text(json.dumps({**data, "expiresAt": "2001-01-01T00:00:00+00:00"}))
    with pytest.raises(PlatformAuthError, match="expired"):
        PlatformAPI(username=admin_name(platform_server), host=platform_server.url)
    assert not expired.exists()


def test_wrong_password_missing_host_and_remember_me_off(platform_server: Any) -> None:
    with pytest.raises(PlatformAuthError) as wrong:
        PlatformAPI(admin_name(platform_server), "not the password", host=platform_server.url)
    assert wrong.value.status == 401
    with pytest.raises(PlatformConfigError, match="BREVETTI_AI_HOST") as no_host:
        PlatformAPI(admin_name(platform_server), platform_server.admin_password)
    assert "host=" in str(no_host.value)
    PlatformAPI(admin_name(platform_server), platform_server.admin_password, host=platform_server.url,
                remember_me=False)
    assert not (Path.home() / ".brevetti").exists()


def test_user_token_argument(platform_server: Any) -> None:
    web = PlatformAPI(host=platform_server.url, token=platform_server.admin_token())
    assert web.user.username == admin_name(platform_server)
    with pytest.raises(PlatformAuthError):
        PlatformAPI(host=platform_server.url, token="bu_wrong")


# -- datasets and tags ------------------------------------------------------------------------------


def test_datasets_create_get_filter_and_page(web: PlatformAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    tag = web.create_tag(_name("tag"))
    name = _name("ds")
    dataset = web.create_dataset(name, reference="ref", notes="some notes", tags=[tag])
    assert isinstance(dataset, Dataset) and dataset.name == name
    assert dataset.bucket == f"brevettiai://{dataset.id}" and dataset.tag_ids == [tag.id]
    assert dataset["tagIds"] == [tag.id] and dataset["notes"] == "some notes"
    assert web.get_dataset(dataset.id) == dataset
    assert web.get_dataset(dataset) == dataset
    assert [d.id for d in web.get_dataset(name=name)] == [dataset.id]
    locked = web.create_dataset(_name("locked"), locked=True)
    assert {d.id for d in web.get_dataset(locked=True)} >= {locked.id}
    assert dataset.id not in {d.id for d in web.get_dataset(locked=True)}
    more = [web.create_dataset(_name("paged")) for _ in range(5)]
    monkeypatch.setattr(web_api, "PAGE_SIZE", 2)
    every = {d.id for d in web.get_dataset()}
    assert {d.id for d in more} | {dataset.id, locked.id} <= every
    with pytest.raises(TypeError, match="nmae"):
        web.get_dataset(nmae=name)
    with pytest.raises(PlatformNotFoundError):
        web.get_dataset("no-such-dataset")


def test_dataset_validation_error_names_the_field(web: PlatformAPI) -> None:
    with pytest.raises(PlatformValidationError) as error:
        web.create_dataset("")
    assert error.value.status == 422 and "name" in str(error.value)


def test_tags_tree(web: PlatformAPI) -> None:
    root = web.create_tag(_name("root"))
    child = web.create_tag(_name("child"), parent=root)
    assert isinstance(child, Tag) and child.parent_id == root.id
    fetched = web.get_tag(root.id)
    assert [c.id for c in fetched.children] == [child.id] and fetched.find(child.name).id == child.id
    roots = web.get_tag()
    assert root.id in {t.id for t in roots} and child.id not in {t.id for t in roots}
    web.delete(root)
    with pytest.raises(PlatformNotFoundError):
        web.get_tag(child.id)


# -- model types, models and reports ----------------------------------------------------------------


def test_modeltype_from_a_settings_class(web: PlatformAPI, model_type: ModelType) -> None:
    assert isinstance(model_type, ModelType) and model_type.kind == "model"
    models = [f.get("model") for f in model_type.settings_schema["fields"]]
    assert {"epochs", "rate", "classes"} <= set(models)
    assert model_type["shortDescription"] == "test trainer" and model_type.command[0] == sys.executable
    assert web.get_modeltype(model_type.id) == model_type
    assert [m.id for m in web.get_modeltype(name=model_type.name)] == [model_type.id]
    from_dict = web.create_modeltype(_name("dict-schema"), "python job.py", settings_schema={"fields": []},
                                     defaults={"epochs": 2}, kind="report")
    assert from_dict.command == ["python", "job.py"] and from_dict.kind == "report"
    assert from_dict.defaults == {"epochs": 2}


def test_model_with_settings_object_shows_its_key_once(web: PlatformAPI, model_type: ModelType) -> None:
    datasets = [web.create_dataset(_name("train")), web.create_dataset(_name("val"))]
    tag = web.create_tag(_name("tag"))
    settings = TrainSettings(epochs=5, classes=["a", "b", "c"])
    model_def = web.create_model(_name("model"), datasets, settings=settings, model_type=model_type, tags=[tag.id])
    assert isinstance(model_def, Model)
    assert model_def["apiKey"].startswith("bj_") and model_def["apiKey"] == model_def.api_key
    assert model_def["id"] == model_def.id and model_def.has_api_key
    assert model_def.api_key not in repr(model_def)
    assert model_def.settings == settings.get_config()
    assert model_def.dataset_ids == [d.id for d in datasets] and model_def.tag_ids == [tag.id]
    assert model_def.model_type_id == model_type.id and model_def.status == "created"
    fetched = web.get_model(model_def.id)
    assert fetched.api_key == "<NO_API_KEY>" and not fetched.has_api_key
    assert fetched.settings == settings.get_config()
    assert [m.id for m in web.get_model(name=model_def.name)] == [model_def.id]
    assert model_def.id in {m.id for m in web.get_model(status="created")}
    as_dict = web.create_model(_name("dict-settings"), datasets[0], settings={"epochs": 2}, model_type=model_type)
    assert as_dict.settings["epochs"] == 2 and as_dict.dataset_ids == [datasets[0].id]


def test_settings_that_break_the_form_are_rejected_naming_the_field(web: PlatformAPI,
                                                                     model_type: ModelType) -> None:
    with pytest.raises(PlatformValidationError) as error:
        web.create_model(_name("bad"), [], settings={"epochs": 0}, model_type=model_type)
    assert error.value.status == 422 and "epochs" in str(error.value)
    assert any("epochs" in json.dumps(item) for item in error.value.detail)
    assert web.get_model(name="bad") == []


def test_testreport(web: PlatformAPI, model_type: ModelType) -> None:
    dataset = web.create_dataset(_name("test"))
    model = web.create_model(_name("model"), [dataset], model_type=model_type)
    report = web.create_testreport(_name("report"), model, [dataset], settings={"threshold": 0.5})
    assert isinstance(report, Report) and report.parent_id == model.id and report.has_api_key
    assert report.dataset_ids == [dataset.id] and report.kind == "report"
    fetched = web.get_report(report.id)
    assert isinstance(fetched, Report) and fetched.parent_id == model.id and not fetched.has_api_key
    assert [r.id for r in web.get_report(name=report.name)] == [report.id]


def test_start_and_stop_training(web: PlatformAPI, model_type: ModelType) -> None:
    model = web.create_model(_name("run"), [], settings=TrainSettings(), model_type=model_type)
    started = web.start_model_training(model)
    assert isinstance(started, Model) and started.has_api_key and started.api_key != model.api_key
    assert started.status in ("queued", "starting", "running")
    # The key issued at start is the job's key; the one from creation no longer works.
    info = PlatformClient(web.host, started.api_key).get(f"/api/jobs/{model.id}/info").json()
    assert info["id"] == model.id and info["settings"]["epochs"] == 3
    with pytest.raises(PlatformAuthError):
        PlatformClient(web.host, model.api_key).get(f"/api/jobs/{model.id}/info")
    stopped = web.stop_model_training(started)
    assert isinstance(stopped, Model) and stopped.id == model.id
    web.delete(stopped)


# -- artifacts, metrics, charts, downloads ----------------------------------------------------------


@pytest.fixture
def model_with_results(web: PlatformAPI, model_type: ModelType, tmp_path: Path) -> Model:
    model = web.create_model(_name("results"), [], model_type=model_type)
    local = tmp_path / "result.txt"
    local.write_text("the result")
    web.upload_file(model, "artifacts/result.txt", local)
    web.upload_file(model, "artifacts/plots/loss.json", local)
    job = PlatformClient(web.host, model.api_key)
    job.post(f"/api/jobs/{model.id}/metrics", json={"batchId": str(uuid.uuid4()), "points": [
        {"step": 0, "time": 1.0, "values": {"loss": 1.0}}, {"step": 1, "time": 2.0, "values": {"loss": 0.5}}]})
    job.put(f"/api/jobs/{model.id}/charts/curve", json={"mark": "line"})
    return model


def test_get_artifacts(web: PlatformAPI, model_with_results: Model) -> None:
    top = web.get_artifacts(model_with_results)
    assert all(isinstance(e, FileEntry) for e in top)
    by_name = {e.name.rstrip("/").rsplit("/", 1)[-1]: e for e in top}
    assert {"result.txt", "plots"} <= set(by_name)
    assert by_name["plots"].is_folder and not by_name["result.txt"].is_folder
    assert by_name["result.txt"].size == len("the result")
    assert by_name["result.txt"].link.endswith(f"/api/files/{model_with_results.id}/artifacts/result.txt")
    everything = web.get_artifacts(model_with_results.id, recursive=True)
    assert any(e.link.endswith("artifacts/plots/loss.json") for e in everything)
    assert not any(e.is_folder for e in everything)
    below = web.get_artifacts(model_with_results, prefix="plots/")
    assert [e.link.rsplit("/", 1)[-1] for e in below] == ["loss.json"]


def test_download_url(web: PlatformAPI, model_with_results: Model, tmp_path: Path) -> None:
    entry = next(e for e in web.get_artifacts(model_with_results) if e.link.endswith("result.txt"))
    assert web.download_url(entry.link) == b"the result"
    assert web.download_url(web.host + entry.link) == b"the result"
    written = web.download_url(entry, dst=tmp_path / "out" / "copy.txt")
    assert Path(written).read_text() == "the result"
    into_folder = web.download_url(entry.link, dst=tmp_path)
    assert Path(into_folder) == tmp_path / "result.txt"
    with pytest.raises(PlatformNotFoundError):
        web.download_url(f"/api/files/{model_with_results.id}/artifacts/missing.txt")


def test_download_from_another_host_never_gets_the_token(web: PlatformAPI, tmp_path: Path) -> None:
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/presigned/file.bin?sig=abc"
        assert web.download_url(url) == b"hello"
        assert Path(web.download_url(url, dst=tmp_path)).read_bytes() == b"hello"
    finally:
        server.shutdown()
    assert seen == [None, None]


def test_metrics_and_charts(web: PlatformAPI, model_with_results: Model) -> None:
    series = web.get_metrics(model_with_results)
    assert [point[:2] for point in series["loss"]] == [[0, 1.0], [1, 0.5]]
    assert web.get_charts(model_with_results) == {"curve": {"mark": "line"}}


# -- deleting ---------------------------------------------------------------------------------------


def test_delete_every_kind(web: PlatformAPI, model_type: ModelType, tmp_path: Path) -> None:
    dataset = web.create_dataset(_name("gone"))
    local = tmp_path / "f.txt"
    local.write_text("x")
    web.upload_file(dataset, "f.txt", local)
    model = web.create_model(_name("gone"), [dataset], model_type=model_type)
    report = web.create_testreport(_name("gone"), model, [dataset])
    tag = web.create_tag(_name("gone"))
    for record, getter in ((report, web.get_report), (model, web.get_model), (dataset, web.get_dataset),
                           (tag, web.get_tag), (model_type, web.get_modeltype)):
        web.delete(record)
        with pytest.raises(PlatformNotFoundError):
            getter(record.id)
    with pytest.raises(PlatformNotFoundError):
        web.download_url(f"/api/files/{dataset.id}/f.txt")
    with pytest.raises(TypeError, match="record"):
        web.delete("some-id")


# -- files and samples ------------------------------------------------------------------------------


def test_upload_file_and_samples_of_a_platform_dataset(web: PlatformAPI, tmp_path: Path) -> None:
    from brevettiai.platform import get_image_samples

    dataset = web.create_dataset(_name("images"))
    files = {"ok/a.png": b"aaa", "defect/b.jpg": b"bb", "ok/deeper/c.bmp": b"c", "notes.txt": b"n",
             ".annotations/ok/a.png.json": b"{}"}
    for relative, content in files.items():
        local = tmp_path / "src" / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)
        answer = web.upload_file(dataset, relative, local)
        assert answer["md5"] == hashlib.md5(content).hexdigest() and answer["size"] == len(content)
    samples = get_image_samples([dataset], io=web.io)
    rows = {row["path"]: row for row in samples.to_dict("records")}
    base = f"brevettiai://{dataset.id}"
    assert set(rows) == {f"{base}/ok/a.png", f"{base}/defect/b.jpg", f"{base}/ok/deeper/c.bmp"}
    assert rows[f"{base}/ok/deeper/c.bmp"]["folder"] == "ok/deeper"
    assert rows[f"{base}/ok/a.png"]["checksum"] == hashlib.md5(b"aaa").hexdigest()
    assert set(samples.dataset_id) == {dataset.id}
    assert web.io.read_file(f"{base}/defect/b.jpg") == b"bb"


# -- running a job in this process ------------------------------------------------------------------


def _platform_jobs_ready() -> bool:
    try:
        import brevettiai.platform.link  # noqa: F401
    except ImportError:
        return False
    return True


needs_platform_jobs = pytest.mark.xfail(not _platform_jobs_ready(), strict=False,
                                        reason="Job.init against a platform is not available yet")


@needs_platform_jobs
def test_initialize_training_returns_a_started_job(web: PlatformAPI, model_type: ModelType) -> None:
    dataset = web.create_dataset(_name("train"))
    model = web.create_model(_name("submitted"), [dataset], settings=TrainSettings(epochs=2), model_type=model_type)
    job = web.initialize_training(web.get_model(model.id), submit=True)
    try:
        assert isinstance(job, Job) and job.id == model.id
        assert job.api_key.startswith("bj_") and job.api_key != model.api_key  # issued by the start
        assert job.settings.get_config()["epochs"] == 2
        assert [d.id for d in job.datasets] == [dataset.id]
        assert job.job_dir == f"brevettiai://{model.id}"
        assert web.get_model(model.id).status in ("queued", "starting", "running")
    finally:
        web.stop_model_training(model)


class LocalTraining(Job):
    settings: TrainSettings

    def run(self) -> str:
        for epoch in range(self.settings.epochs):
            self.log_metrics(epoch, loss=1.0 / (epoch + 1))
        path = self.artifact_path("model.txt")
        self.io.write_file(path, f"trained {self.settings.epochs} epochs")
        return path


@needs_platform_jobs
def test_initialize_training_without_submitting_runs_here(web: PlatformAPI, model_type: ModelType) -> None:
    dataset = web.create_dataset(_name("train"))
    model_def = web.create_model(_name("local"), [dataset], settings=TrainSettings(epochs=3), model_type=model_type)
    job = web.initialize_training(model_def, job_type=LocalTraining)
    assert isinstance(job, LocalTraining) and job.api_key.startswith("bj_") and job.api_key != model_def.api_key
    assert web.get_model(model_def.id).status == "starting"  # a new key, but nothing launched on the runner
    job.start()
    done = web.get_model(model_def.id)
    assert done.status == "completed" and done.model_path
    assert [point[1] for point in web.get_metrics(done)["loss"]] == [1.0, 0.5, 1.0 / 3]
    entry = next(e for e in web.get_artifacts(done) if e.name == "model.txt")
    assert web.download_url(entry) == b"trained 3 epochs"
    with pytest.raises(PlatformValidationError, match="only a created model can be started"):
        web.initialize_training(web.get_model(model_def.id))


@needs_platform_jobs
def test_initialize_report_without_submitting(web: PlatformAPI, model_type: ModelType) -> None:
    dataset = web.create_dataset(_name("test"))
    model = web.create_model(_name("model"), [dataset], model_type=model_type)
    report_type = web.create_modeltype(_name("reporter"), [sys.executable, "-c", "pass"], kind="report")
    report = web.create_testreport(_name("report"), model, [dataset], report_type=report_type,
                                   settings={"threshold": 0.5})
    job = web.initialize_report(report)
    assert isinstance(job, Job) and job.id == report.id and job.api_key != report.api_key
    assert job.settings.get_config()["threshold"] == 0.5 and [d.id for d in job.datasets] == [dataset.id]
    job.start()
    assert web.get_report(report.id).status == "completed"
