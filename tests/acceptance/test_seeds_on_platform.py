"""The seed notebook verbatim against a real platform server, found through BREVETTI_AI_HOST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_seeds import HERE, NOTEBOOK_SEED

PRELUDE = HERE / "preludes" / "vue_settings_module.py"


def test_job_api_notebook_runs_verbatim_on_the_platform(platform_server, tmp_path: Path) -> None:
    with platform_server.client() as admin:
        model = admin.post("/api/models", json={"name": "Seed on platform", "settings": {"some_setting_i_need": 42},
                                                "datasetIds": [], "tagIds": []}).json()
    model_id, api_key = model["id"], model["apiKey"]
    out = tmp_path / "transcript.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVETTI")}
    env.update(job_id=model_id, api_key=api_key, BREVETTI_AI_HOST=platform_server.url)
    subprocess.run([sys.executable, str(HERE / "_notebook.py"), str(NOTEBOOK_SEED), str(PRELUDE), str(out)],
                   env=env, check=True, timeout=120, cwd=tmp_path)
    cells = json.loads(out.read_text())
    for cell in cells:
        assert cell["error"] is None, f"seed cell failed:\n{cell['source']}\n{cell['error']}"

    job_dir = f"brevettiai://{model_id}"
    assert f"INFO:brevettiai.platform.job:Config args found at: '{job_dir}/info.json'" in cells[1]["stderr"]
    assert "Invalid config keys: some_setting_i_need" in cells[2]["stderr"]
    assert cells[3]["stdout"].splitlines()[0] == (
        "{'param_1': -1.0, 'param_2': 'Param2 not provided', 'param_3': {'test_dict_serialization': 'nested2'}, "
        "'custom': {'custom_param': 5}}")
    assert cells[4]["value"] == "'artifacts/output.json'"
    assert cells[5]["stdout"].splitlines()[1] == "Valuable information"
    site_line, content = cells[6]["stdout"].splitlines()
    assert site_line == f"Available at on the website: {platform_server.url}/models/{model_id}/artifacts"
    assert content == "Valuable information"
    assert api_key not in json.dumps(cells)

    with platform_server.client() as admin:
        saved = admin.get(f"/api/files/{model_id}/artifacts/something_i_want_to_save.txt")
        assert saved.status_code == 200 and saved.text == "Valuable information"
        output = admin.get(f"/api/files/{model_id}/artifacts/output.json").json()
        assert output["job"]["settings"]["custom"] == {"custom_param": 5}
        assert api_key not in json.dumps(output)
