"""What of the environment a job started by the platform inherits: the SDK's behaviour settings and what a
job needs to run where its server runs (proxies, CA bundles, GPU order, model caches, time zone), no secret.

The runner's allow-list takes the SDK's part from the SDK's one table of variables
(`brevettiai.contract.environment`), so an operator's `BREVETTI_AI_SYSTEM_METRICS(_INTERVAL)` reaches the
job like the heartbeat interval does, and a person's login, another job's location or a server
setting never does.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import certifi
from platform_fixture import PlatformServer
from server_helpers import model, model_type
from services import wait_for

from brevettiai.contract.environment import SDK_ENVIRONMENT, passed_to_jobs
from brevettiai.server.config import SETTINGS
from brevettiai.server.runners import job_environment

# A real SDK job: it finds itself from --job_id, --host and its key, records one point and prints which
# variables it sees (the value of its key only as its kind: a key is never printed).
JOB_SCRIPT = textwrap.dedent('''
    import json, os
    from brevettiai import Job

    with Job.init() as job:
        job.log_metrics(0, loss=1.0)
        seen = {k: v for k, v in os.environ.items() if k.startswith(("BREVETTI", "AWS_", "FSSPEC_", "PG"))}
        seen["BREVETTI_AI_API_KEY"] = "its own job key" if seen.get("BREVETTI_AI_API_KEY", "").startswith("bj_") \\
            else "another key"
        print("environment:", json.dumps(seen), flush=True)
        with open("names.json") as names:  # the machine's variables to show
            print("runs with:", json.dumps({k: os.environ.get(k) for k in json.load(names)}), flush=True)
''')

# The server's environment, as an operator may have it: behaviour settings meant for every job, a login
# of the operator's own, where the operator's own offline jobs live, cloud secrets and server settings.
OPERATOR = {
    "BREVETTI_AI_SYSTEM_METRICS": "0", "BREVETTI_AI_SYSTEM_METRICS_INTERVAL": "7",
    "BREVETTI_AI_HEARTBEAT_INTERVAL": "5", "BREVETTI_AI_FLUSH_TIMEOUT": "30",
    "BREVETTI_AI_USER": "operator", "BREVETTI_AI_PW": "operator-password", "BREVETTI_AI_TOKEN": "bp_operator",
    "BREVETTI_AI_API_KEY": "operator-key", "BREVETTI_AI_JOB_ID": "someone-else", "BREVETTI_AI_JOB_DIR": "/elsewhere",
    "BREVETTI_AI_INFO_FILE": "/elsewhere/info.json", "BREVETTI_AI_DATA_BUCKET": "/elsewhere",
    "BREVETTIAI_DATA_BUCKET": "/elsewhere", "BREVETTIAI_HOST_NAME": "http://127.0.0.1:9",
    "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_ACCESS_KEY_ID": "aws-id", "FSSPEC_S3_SECRET": "fsspec-secret",
    "PGPASSWORD": "pg-password", "BREVETTI_AI_STOP_GRACE": "20", "BREVETTI_AI_TOKEN_TTL": "2h",
}

# What a real job needs of the machine it runs on. The proxies lead nowhere and the operator's NO_PROXY
# does not name the platform: the runner adds it, and loopback, so the job completing shows that its
# requests (and key) go to the platform and not to the proxy.
MACHINE = {
    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "all_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "internal.example", "no_proxy": "internal.example",
    "SSL_CERT_FILE": certifi.where(), "REQUESTS_CA_BUNDLE": certifi.where(), "CURL_CA_BUNDLE": certifi.where(),
    "SSL_CERT_DIR": "/etc/ssl/certs", "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "",
    "HF_HOME": "/cache/hf", "TORCH_HOME": "/cache/torch", "XDG_CACHE_HOME": "/cache", "TZ": "Europe/Copenhagen",
}
BYPASS = "internal.example,127.0.0.1,localhost,::1"
AS_THE_JOB_SEES_IT = {**MACHINE, "NO_PROXY": BYPASS, "no_proxy": BYPASS}
SECRETS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "PGPASSWORD", "PGUSER",
           "PGHOST", "FSSPEC_S3_SECRET", "DATABASE_URL", "HF_TOKEN"}


def test_the_allow_list_passes_what_a_job_needs_of_its_machine_and_no_secret() -> None:
    credentials = {name for variable in SDK_ENVIRONMENT.values() if variable.kind != "behaviour"
                   for name in variable.names}
    server_variables = {setting.env for setting in SETTINGS.values()} | {"BREVETTI_AI_ADMIN_PASSWORD"}
    env = job_environment({**MACHINE, **{name: "secret" for name in SECRETS | credentials | server_variables}},
                          {"BREVETTI_AI_API_KEY": "bj_its-own"})
    assert {name: env.get(name) for name in MACHINE} == AS_THE_JOB_SEES_IT
    assert "secret" not in env.values()
    assert env["BREVETTI_AI_API_KEY"] == "bj_its-own"  # what the runner gives the job comes on top


def test_the_allow_list_passes_the_sdk_behaviour_settings_and_no_server_setting() -> None:
    server_variables = {setting.env for setting in SETTINGS.values()} | {"BREVETTI_AI_ADMIN_PASSWORD"}
    every_sdk_variable = {name: "x" for variable in SDK_ENVIRONMENT.values() for name in variable.names}
    env = job_environment({**every_sdk_variable, **{name: "x" for name in server_variables}}, {})
    assert set(env) - {"PYTHONUNBUFFERED"} == passed_to_jobs()
    assert {"BREVETTI_AI_SYSTEM_METRICS", "BREVETTI_AI_SYSTEM_METRICS_INTERVAL"} <= set(env)


def test_a_job_started_by_the_runner_inherits_the_operators_behaviour_settings_and_its_machine_only(
        platform_server_factory: object, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    (tmp_path / "names.json").write_text(json.dumps(list(MACHINE)))
    server: PlatformServer = platform_server_factory(env={**OPERATOR, **MACHINE})  # type: ignore[operator]
    with server.client() as admin:
        job_type = model_type(admin, command=[sys.executable, "job.py"], workingDir=str(tmp_path),
                              settingsSchema={"fields": [], "presets": {}}, defaults={})
        job = model(admin, modelTypeId=job_type["id"])
        assert admin.post(f"/api/models/{job['id']}/start").status_code == 200
        record = wait_for(lambda: (r := admin.get(f"/api/models/{job['id']}").json())["status"]
                          in ("completed", "failed", "killed", "lost") and r, timeout=60, what="the job ending")
        log = wait_for(lambda: "environment:" in (t := admin.get(f"/api/files/{job['id']}/logs/job.log").text) and t,
                       what="the job's log")
        series = admin.get(f"/api/models/{job['id']}/metrics").json()["series"]
    assert record["status"] == "completed", log  # it ran as itself: no inherited job dir or host misled it
    seen = json.loads(log.split("environment:", 1)[1].splitlines()[0])
    assert seen == {"BREVETTI_AI_SYSTEM_METRICS": "0", "BREVETTI_AI_SYSTEM_METRICS_INTERVAL": "7",
                    "BREVETTI_AI_HEARTBEAT_INTERVAL": "5", "BREVETTI_AI_FLUSH_TIMEOUT": "30",
                    "BREVETTI_AI_API_KEY": "its own job key"}
    assert json.loads(log.split("runs with:", 1)[1].splitlines()[0]) == AS_THE_JOB_SEES_IT
    assert "loss" in series and not [name for name in series if name.startswith("system/")]  # the operator's 0


def test_a_job_never_sends_its_key_through_a_proxy_to_its_own_platform() -> None:
    env = job_environment({"HTTPS_PROXY": "http://proxy.corp:3128", "no_proxy": "intranet"},
                          {"BREVETTI_AI_API_KEY": "bj_key"}, "https://Platform.Example.com:8443/")
    assert env["NO_PROXY"] == env["no_proxy"] == "intranet,127.0.0.1,localhost,::1,platform.example.com"
    assert "NO_PROXY" not in job_environment({"PATH": "/bin"}, {}, "http://127.0.0.1:1"), "no proxy, no change"
