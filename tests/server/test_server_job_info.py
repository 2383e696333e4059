"""info.json has one definition (issue 10: `brevettiai.contract.info.JobInfo`): a real server writes
exactly its keys, and a job started with the SDK reads every one of them as the server wrote it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from server_helpers import created, job_client, model_type, unique

from brevettiai.contract.info import ENDPOINT_KEYS, JobInfo

# The job reports what it read, key by info key, in the SDK's own records (a dataset's info keys, a Tag
# written back as on the wire, the endpoints as `api_endpoints` names them); `kind` and `model_type` are read as attributes.
READER = textwrap.dedent("""
    import json, sys
    from brevettiai import Job, JobSettings
    from brevettiai.contract.info import ENDPOINT_KEYS, InfoJob

    class Reader(Job):
        class Settings(JobSettings):
            epochs: int = 0
            threshold: float = 0.0

    job_id, key, host = sys.argv[1:]
    job = Reader.init(job_id=job_id, api_key=key, host=host, argv=[], system_metrics=False)
    read = {"id": job.id, "name": job.name, "kind": job.kind, "host_name": job.host_name, "run_id": job.run_id,
            "settings": job.settings.get_config(), "datasets": [{k: getattr(d, k) for k in InfoJob.__required_keys__} for d in job.datasets],
            "tags": [t.to_wire() for t in job.tags], "models": job.models, "parent": job.parent,
            "model_type": job.model_type}
    read.update({key: job.api_endpoints[name] for name, key in ENDPOINT_KEYS.items()})
    print(json.dumps(read))
""")


def test_the_info_a_real_server_writes_is_exactly_what_a_job_reads(platform_server: Any, tmp_path: Path) -> None:
    with platform_server.client() as admin:
        tag = created(admin.post("/api/tags", json={"name": unique("tag")}))
        child = created(admin.post("/api/tags", json={"name": unique("tag"), "parentId": tag["id"]}))
        data = created(admin.post("/api/datasets", json={"name": unique("data"), "tagIds": [tag["id"]]}))
        model = created(admin.post("/api/models", json={"name": unique("model"), "datasetIds": [data["id"]]}))
        reporter = model_type(admin, kind="report")
        report = created(admin.post("/api/reports", json={
            "name": unique("report"), "parentId": model["id"], "modelTypeId": reporter["id"],
            "datasetIds": [data["id"]], "tagIds": [tag["id"]], "settings": {"threshold": 0.5}}))
        started = admin.post(f"/api/reports/{report['id']}/start", params={"launch": False})
        assert started.status_code == 200, started.text
        key = started.json()["apiKey"]
    with job_client(platform_server.url, key) as job_http:
        written = job_http.get(f"/api/jobs/{report['id']}/info").json()

    assert written.keys() == JobInfo.__required_keys__, "the server's info.json and the contract's keys differ"
    assert written["parent"]["id"] == model["id"] and written["models"][0]["id"] == model["id"]
    assert written["model_type"]["id"] == reporter["id"] and written["run_id"]
    assert [t["id"] for t in written["tags"]] == [tag["id"]] and written["tags"][0]["children"][0]["id"] == child["id"]

    reader = tmp_path / "reader.py"
    reader.write_text(READER)
    result = subprocess.run([sys.executable, str(reader), report["id"], key, platform_server.url],
                            capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(ENDPOINT_KEYS.values()) - JobInfo.__optional_keys__ <= written.keys()
    for field in written:
        assert read[field] == written[field], f"info.json {field!r}: written {written[field]!r}, read {read[field]!r}"


def test_every_info_key_the_job_models_is_a_contract_key() -> None:
    from brevettiai.job import _INFO_FIELDS

    contract_keys = JobInfo.__required_keys__ | JobInfo.__optional_keys__
    assert contract_keys >= _INFO_FIELDS
    assert contract_keys >= set(ENDPOINT_KEYS.values())
