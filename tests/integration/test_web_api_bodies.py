"""The bodies the SDK sends are the server's own request models (issue 10: `brevettiai.contract.requests`).

Every body `PlatformAPI`'s creators send to a real server is read back through the server's model for
that route: each key is one of its fields (none ignored), it validates, and the record the server
answers holds what was sent. A body the server refuses still gives the server's error, not the SDK's.
"""

from __future__ import annotations

import json
import sys
import uuid

import httpx
import pytest
from pydantic import BaseModel

from brevettiai.errors import PlatformValidationError
from brevettiai.platform.web_api import PlatformAPI
from brevettiai.server.schemas import DatasetIn, ModelIn, ModelTypeIn, ReportIn, TagIn
from brevettiai.settings import JobSettings

SERVER_MODELS: dict[str, type[BaseModel]] = {"/api/datasets": DatasetIn, "/api/tags": TagIn,
                                             "/api/modeltypes": ModelTypeIn, "/api/models": ModelIn,
                                             "/api/reports": ReportIn}


class Epochs(JobSettings):
    epochs: int = 3


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _sent_bodies(web: PlatformAPI) -> list[tuple[str, dict[str, object]]]:
    """Records (path, JSON body) of every POST the client sends from now on."""
    sent: list[tuple[str, dict[str, object]]] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path in SERVER_MODELS:
            sent.append((request.url.path, json.loads(request.content)))

    web.client._client.event_hooks["request"].append(record)
    return sent


def test_every_body_the_creators_send_is_exactly_a_server_request_model(web: PlatformAPI) -> None:
    sent = _sent_bodies(web)
    root = web.create_tag(_name("tag"))
    child = web.create_tag(_name("tag"), parent=root)
    dataset = web.create_dataset(_name("data"), reference="ref", notes="n", locked=True, tags=[child])
    trainer = web.create_modeltype(_name("trainer"), "python train.py --fast", settings_schema=Epochs,
                                   working_dir="/tmp", defaults={"epochs": 5}, short_description="short")
    reporter = web.create_modeltype(_name("reporter"), [sys.executable, "-c", "pass"],
                                    settings_schema={"fields": [], "presets": {"quick": {}}}, kind="report")
    bare = web.create_model(_name("bare"), [dataset])
    model = web.create_model(_name("model"), [dataset], settings={"epochs": 7}, model_type=trainer, tags=[root])
    report = web.create_testreport(_name("report"), model, [dataset], report_type=reporter, settings='{"a": 1}')

    assert [path for path, _ in sent] == ["/api/tags", "/api/tags", "/api/datasets", "/api/modeltypes",
                                          "/api/modeltypes", "/api/models", "/api/models", "/api/reports"]
    for path, body in sent:
        server_model = SERVER_MODELS[path]
        aliases = {info.alias or name for name, info in server_model.model_fields.items()}
        assert body.keys() <= aliases, f"{path}: the server ignores {sorted(body.keys() - aliases)}"
        server_model.model_validate(body)

    assert sent[0][1] == {"name": root.name, "parentId": None} and child.parent_id == root.id
    assert (dataset.reference, dataset.notes, dataset.locked, dataset.tag_ids) == ("ref", "n", True, [child.id])
    assert trainer.command == ["python", "train.py", "--fast"] and trainer.working_dir == "/tmp"
    assert trainer.defaults == {"epochs": 5} and trainer.short_description == "short"
    assert [field["model"] for field in trainer.settings_schema["fields"]] == ["epochs"]
    assert reporter.kind == "report" and reporter.settings_schema["presets"] == {"quick": {}}
    assert "modelTypeId" not in sent[5][1] and bare.model_type_id is None
    assert model.model_type_id == trainer.id and model.settings["epochs"] == 7 and model.tag_ids == [root.id]
    assert report.parent_id == model.id and report.model_type_id == reporter.id and report.settings["a"] == 1


def test_a_body_the_server_refuses_gives_the_servers_error_naming_the_field(web: PlatformAPI) -> None:
    with pytest.raises(PlatformValidationError, match="name") as refused:
        web.create_tag("")
    assert refused.value.status == 422
    with pytest.raises(PlatformValidationError, match="kind"):
        web.create_modeltype(_name("odd"), "python x.py", kind="neither")
