"""Every code block of both seed documents, run verbatim as notebook cells against local job dirs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SEEDS = HERE / "seeds"
NOTEBOOK_SEED = SEEDS / "000_03cee73ab9282a3f.txt"
INTRO_SEED = SEEDS / "001_a335b9fcb832ea42.txt"
PRELUDES = sorted((HERE / "preludes").glob("*.py"))

MODEL_ID = "ae03ff72-b7a2-444d-8fe9-623f61dc4c71"
API_KEY = "sEcReT-job-key-0123456789"
ENV_JOB_ID = "c30facd2-e0e7-4b6d-9339-14a1d22bbd54"
HOST = "http://127.0.0.1:8000"


def _write_job(bucket: Path, info: dict) -> Path:
    job_dir = bucket / info["id"]
    job_dir.mkdir(parents=True)
    (job_dir / "info.json").write_text(json.dumps(info))
    return job_dir


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    """A storage root with the jobs the seeds open: their info.json as the platform writes it."""
    root = tmp_path / "bucket"
    _write_job(root, {
        "id": MODEL_ID, "name": "Seed notebook job", "host_name": HOST,
        "settings": {"some_setting_i_need": 42},
        "datasets": [{"id": "22df0049", "name": "NeurIPS vials", "bucket": str(root / "22df0049")}],
        "tags": [{"id": "t1", "name": "Root", "parentId": None}],
        "charts_url": f"/api/models/{MODEL_ID}/charts?key={API_KEY}",
        "remote_url": f"/api/models/{MODEL_ID}/remotemonitor?key={API_KEY}",
    })
    # The intro's MyJob prints self.my_custom_setting: a key of info.json the Job exposes as an attribute.
    _write_job(root, {"id": "UUID", "name": "Intro job", "settings": {"my_custom_int_setting": 37},
                      "my_custom_setting": "from info.json"})
    _write_job(root, {"id": ENV_JOB_ID, "name": "Job from the environment", "settings": {"epochs": 10}})
    return root


def run_document(document: Path, prelude: Path, bucket: Path, tmp_path: Path) -> list[dict]:
    """Run a seed document in a fresh interpreter, as a notebook would; return its cell transcript."""
    out = tmp_path / f"{document.stem}.json"
    env = {**os.environ, "job_id": MODEL_ID, "api_key": API_KEY, "BREVETTI_AI_DATA_BUCKET": str(bucket),
           "BREVETTI_AI_JOB_ID": ENV_JOB_ID}
    subprocess.run([sys.executable, str(HERE / "_notebook.py"), str(document), str(prelude), str(out)],
                   env=env, check=True, timeout=120, cwd=tmp_path)
    cells = json.loads(out.read_text())
    for cell in cells:
        assert cell["error"] is None, f"seed cell failed:\n{cell['source']}\n{cell['error']}"
    return cells


# The seed documents are carried in tests/acceptance/seeds; their digests pin them, so the tests below
# run the spec itself, with or without a shared/ folder beside the checkout.
SEED_SHA256 = {
    "000_03cee73ab9282a3f.txt": "0ccd19b58b1e454cca556d69b3a7f7077eb6822f2766f44a1a55ad85e062783d",
    "001_a335b9fcb832ea42.txt": "af13c5f798b7dbb60664184652e59bc2ec3f01525be357b3bec162efedc5eae0",
}


def test_the_carried_seeds_are_the_spec() -> None:
    carried = {seed.name: hashlib.sha256(seed.read_bytes()).hexdigest() for seed in SEEDS.glob("*.txt")}
    assert carried == SEED_SHA256, "a seed document changed: the seeds are the spec, update them on purpose"
    # Where a shared copy of the spec sits beside a checkout (../shared/seeds), it must be the same text.
    for shared in {HERE.parents[2] / "shared" / "seeds", HERE.parents[3] / "shared" / "seeds"}:
        for seed in shared.glob("*.txt") if shared.is_dir() else ():
            assert (SEEDS / seed.name).read_text() == seed.read_text(), f"{seed.name} changed in {shared}"


@pytest.mark.parametrize("prelude", PRELUDES, ids=lambda p: p.stem)
def test_job_api_notebook_runs_verbatim(prelude: Path, bucket: Path, tmp_path: Path) -> None:
    cells = run_document(NOTEBOOK_SEED, prelude, bucket, tmp_path)
    assert len(cells) == 7
    job_dir = bucket / MODEL_ID
    info_file, output_file = job_dir / "info.json", job_dir / "artifacts" / "output.json"

    init_log = cells[1]["stderr"]
    assert f"INFO:brevettiai.platform.job:Config args found at: '{info_file}'" in init_log.splitlines()
    assert f"INFO:brevettiai.platform.job:Uploading output.json to {output_file}" in init_log.splitlines()

    settings_log = cells[2]["stderr"].splitlines()
    assert "WARNING:brevettiai.utils.module:Invalid config keys: some_setting_i_need" in settings_log

    config_line, custom_line = cells[3]["stdout"].splitlines()
    assert config_line == ("{'param_1': -1.0, 'param_2': 'Param2 not provided', 'param_3': "
                           "{'test_dict_serialization': 'nested2'}, 'custom': {'custom_param': 5}}")
    assert custom_line.endswith(" {'custom_param': 5}")
    if prelude.stem == "vue_settings_module":
        assert re.fullmatch(r"<__main__\.MyCustomObject object at 0x[0-9a-f]+> \{'custom_param': 5\}", custom_line)

    assert cells[4]["value"] == "'artifacts/output.json'"
    assert f"Uploading output.json to {output_file}" in cells[4]["stderr"]

    temp_file, temp_content = cells[5]["stdout"].splitlines()
    assert temp_file.endswith("/something_i_want_to_save_temporarily.txt") and os.path.isabs(temp_file)
    assert temp_content == "Valuable information"

    site_line, artifact_content = cells[6]["stdout"].splitlines()
    assert site_line == f"Available at on the website: {HOST}/models/{MODEL_ID}/artifacts"
    assert artifact_content == "Valuable information"
    assert (job_dir / "artifacts" / "something_i_want_to_save.txt").read_text() == "Valuable information"

    output = json.loads(output_file.read_text())
    assert output["job"]["id"] == MODEL_ID
    assert output["job"]["settings"] == {"param_1": -1.0, "param_2": "Param2 not provided",
                                         "param_3": {"test_dict_serialization": "nested2"},
                                         "custom": {"custom_param": 5}}
    assert output["job"]["unknown_settings"] == {"some_setting_i_need": 42}
    for path in job_dir.rglob("*"):
        if path.is_file() and path.name != "info.json":
            assert API_KEY not in path.read_text(), f"the job key leaked into {path}"
    transcript = json.dumps(cells)
    assert API_KEY not in transcript, "the job key was printed or logged"


@pytest.mark.parametrize("prelude", PRELUDES[:1], ids=lambda p: p.stem)
def test_job_api_introduction_runs_verbatim(prelude: Path, bucket: Path, tmp_path: Path) -> None:
    cells = run_document(INTRO_SEED, prelude, bucket, tmp_path)
    assert len(cells) == 2
    assert cells[0]["stdout"] == "My setting is from info.json\n"
    state = json.loads((bucket / "UUID" / "status.json").read_text())
    assert state["status"] == "completed"
    output = json.loads((bucket / "UUID" / "artifacts" / "output.json").read_text())
    assert output["job"]["settings"] == {"my_custom_int_setting": 37}
    # `Job.init()` with no arguments found the job through BREVETTI_AI_JOB_ID and the data bucket.
    assert f"Config args found at: '{bucket / ENV_JOB_ID / 'info.json'}'" in cells[1]["stderr"]
    env_output = json.loads((bucket / ENV_JOB_ID / "artifacts" / "output.json").read_text())
    assert env_output["job"]["settings"] == {"epochs": 10}
