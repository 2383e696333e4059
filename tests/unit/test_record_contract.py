"""The contract's records are strict (what the server must answer); the SDK's records derived from them
read leniently (what an older or other platform may answer). The server side against the SDK side is
tested with a real server in tests/server/test_server_wire_records.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from brevettiai.contract.records import NO_API_KEY, JobRecord, UserRecord
from brevettiai.contract.reports import ExitReport, HeartbeatAnswer, StateReport
from brevettiai.datamodel import Dataset, Tag
from brevettiai.datamodel.web import FileEntry, Model, ModelType, Report, User

SDK_RECORDS = (Tag, Dataset, User, ModelType, Model, Report, FileEntry)


@pytest.mark.parametrize("record", SDK_RECORDS, ids=lambda r: r.__name__)
def test_an_sdk_record_reads_an_answer_that_has_only_an_id(record: type) -> None:
    key = "name" if record is FileEntry else "id"
    assert getattr(record.model_validate({key: "x"}), key) == "x"
    required = {name for name, info in record.model_fields.items() if info.is_required()} - {key}
    assert required <= set(record._read_defaults), f"no SDK default for {sorted(required - set(record._read_defaults))}"
    assert set(record._read_defaults) <= set(record.model_fields)


def test_sdk_records_take_older_shapes_and_keep_what_they_do_not_model() -> None:
    model = Model.model_validate({"id": "m", "datasets": [{"id": "d1"}, "d2"], "tags": [{"id": "t"}],
                                  "settings": '{"epochs": 3}', "apiKey": "", "firstSeenBy": "ui"})
    assert model.dataset_ids == ["d1", "d2"] and model.tag_ids == ["t"] and model.settings == {"epochs": 3}
    assert model.api_key == NO_API_KEY and not model.has_api_key and model["firstSeenBy"] == "ui"
    assert model.kind == "model" and model.status == "created" and Report.model_validate({"id": "r"}).kind == "report"
    user = User.model_validate({"id": "u", "first_name": None, "lastName": None})
    assert (user.first_name, user.last_name, user["isAdmin"]) == ("", "", False)
    one, two = ModelType.model_validate({"id": "a"}), ModelType.model_validate({"id": "b"})
    one.settings_schema["fields"].append({"model": "x"})  # type: ignore[union-attr]
    assert two.settings_schema == {"fields": [], "presets": {}}  # defaults are not shared between records
    assert "apiKey" not in repr(Model.model_validate({"id": "m", "apiKey": "bj_secret"}))
    assert "bj_secret" not in repr(Model.model_validate({"id": "m", "apiKey": "bj_secret"}))
    # A job's info.json gives a dataset's id, name and bucket only; a tag tree reads as SDK tags throughout.
    dataset = Dataset.model_validate({"id": "d", "name": "cats", "bucket": "brevettiai://d", "tags": [{"id": "t"}]})
    assert (dataset.locked, dataset.notes, dataset.tag_ids) == (False, "", ["t"])
    tree = Tag.model_validate({"id": "a", "children": [{"id": "b", "name": "leaf", "children": []}]})
    assert isinstance(tree.find("leaf"), Tag)


def test_the_contract_records_are_strict_about_what_the_server_answers() -> None:
    with pytest.raises(ValidationError) as missing:
        JobRecord.model_validate({"id": "m"})
    assert {"name", "status", "settings", "apiKey"} <= {str(e["loc"][0]) for e in missing.value.errors()}
    answer = Model.model_validate({"id": "m", "name": "n"}).to_wire()
    assert JobRecord.model_validate(answer).name == "n"  # the SDK's defaults are a whole answer
    with pytest.raises(ValidationError, match="status"):
        JobRecord.model_validate({**answer, "status": "paused"})
    with pytest.raises(ValidationError, match="firstName"):
        UserRecord.model_validate({"id": "u", "username": "u", "firstName": None, "lastName": "", "email": "",
                                   "isAdmin": False})


def test_a_state_report_body_has_only_what_was_given_in_wire_names() -> None:
    assert StateReport(status="running").body() == {"status": "running"}
    failed = StateReport(status="failed", model_path="m.onnx",
                         exit=ExitReport.model_validate({"code": 2, "signal": None, "host": "w1"}))
    assert failed.body() == {"status": "failed", "modelPath": "m.onnx", "exit": {"code": 2, "host": "w1"}}
    with pytest.raises(ValidationError, match="status"):
        StateReport(status="lost")  # type: ignore[arg-type]  # the platform's word, never a job's


def test_a_stop_request_reaches_a_job_from_a_platform_with_statuses_its_sdk_does_not_know() -> None:
    from brevettiai.server.schemas import HeartbeatOut

    assert HeartbeatAnswer.model_validate_json(b'{"status": "paused", "stopRequested": true}').stop_requested
    with pytest.raises(ValidationError, match="status"):
        HeartbeatOut.model_validate({"status": "paused", "stopRequested": True})  # the server answers a JobStatus


def test_an_sdk_lists_models_of_a_platform_with_statuses_it_does_not_know() -> None:
    models = [Model.model_validate({"id": "a", "status": "hibernating"}), Report.model_validate({"id": "b"})]
    assert [m.status for m in models] == ["hibernating", "created"]
    with pytest.raises(ValidationError):  # the server itself answers only the statuses of the contract
        JobRecord.model_validate({**Model.model_validate({"id": "a"}).to_wire(), "status": "hibernating"})


def test_nulls_and_shapes_of_other_platforms_read_with_defaults_instead_of_failing_a_listing() -> None:
    model = Model.model_validate({"id": "m", "notes": None, "error": "boom"})
    assert (model.notes, model.error) == ("", {"message": "boom"})
    assert Report.model_validate({"id": "r", "error": ["a", "b"]}).error == {"message": "['a', 'b']"}
    user = User.model_validate({"id": "u", "role": None, "disabled": None})
    assert (user.role, user.disabled) == ("member", False)
