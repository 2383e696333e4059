"""`make demo`: the whole platform on loopback, from a dataset upload to a trained model.

Starts `brevettiai server` on 127.0.0.1 (data in runs/platform, kept for `make serve`), uploads a
generated dataset, registers the example job as a model type, creates a model, starts it through
the platform's runner, shows its progress as it trains, and prints where to look.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("BREVETTI_AI_DEMO_DIR", ROOT / "runs" / "platform")).resolve()
sys.path.insert(0, str(ROOT / "examples"))

from logistic_regression import LogisticRegressionSettings, generate_samples, samples_to_csv  # noqa: E402

from brevettiai.datamodel.web import ModelType  # noqa: E402
from brevettiai.platform import PlatformAPI  # noqa: E402
from brevettiai.utils.upload_data import upload_folder  # noqa: E402

READY = "brevettiai platform listening on "
START_TIMEOUT = 180.0  # seconds for the ready line: a busy machine can take minutes to start the server
MODEL_TYPE_NAME = "Logistic regression"
TERMINAL = {"completed", "failed", "killed", "lost"}


def admin_password() -> str:
    """The demo platform's admin password: made on the first run, kept (0600) beside its data."""
    path = DATA_DIR / "admin-password.txt"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def start_server(password: str) -> tuple[subprocess.Popen, str]:
    """Start the platform and wait until it listens; its output goes to runs/platform/server.log."""
    env = {**os.environ, "BREVETTI_AI_ADMIN_PASSWORD": password}
    log_path = DATA_DIR / "server.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the server process for its lifetime
    process = subprocess.Popen([sys.executable, "-m", "brevettiai.cli", "server", "--port", "0",
                                "--data-dir", str(DATA_DIR)], stdout=subprocess.PIPE, stderr=log, env=env)
    url: list[str] = []
    ready = threading.Event()

    def read_output() -> None:
        for raw in process.stdout:
            line = raw.decode(errors="replace")
            log.write(raw)
            log.flush()
            if READY in line and not url:
                url.append(line.split(READY, 1)[1].split()[0])
                ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    # A server that exits is reported at once; a slow one (a busy machine can take minutes) is waited for.
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.5):
        if process.poll() is not None:
            raise SystemExit(f"the platform exited with code {process.returncode} before it was ready; see {log_path}")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the platform was not ready within {START_TIMEOUT:.0f} s; see {log_path}")
    return process, url[0]


def make_dataset_folder() -> Path:
    """Generated samples as two CSV files, as a user would have them on disk."""
    folder = Path(tempfile.mkdtemp(prefix="brevettiai-demo-data-"))
    x, y = generate_samples(n_samples=4000, n_features=8, noise=0.8, seed=7)
    for part, rows in enumerate(((0, 2000), (2000, 4000))):
        (folder / f"samples-{part}.csv").write_text(samples_to_csv(x[rows[0]:rows[1]], y[rows[0]:rows[1]]))
    return folder


def follow(web: PlatformAPI, model_id: str) -> dict:
    """Print new progress points until the job ends; return the final model record."""
    shown = 0
    while True:
        model = web.get_model(model_id)
        series = web.get_metrics(model)
        steps = [int(p[0]) for p in series.get("train_loss", [])]
        for index in range(shown, len(steps)):
            values = {name: points[index][1] for name, points in series.items() if index < len(points)}
            text = "  ".join(f"{k} {v:.3f}" for k, v in sorted(values.items()))
            print(f"  epoch {steps[index]:>4}  {text}", flush=True)
        shown = len(steps)
        if model.status in TERMINAL:
            return model
        time.sleep(0.3)


def example_model_type(web: PlatformAPI) -> ModelType:
    """The example job's model type: the one an earlier demo registered if it is the same, else a new one."""
    wanted = {"command": [sys.executable, "examples/logistic_regression.py"], "working_dir": str(ROOT),
              "settings_schema": json.loads(json.dumps(LogisticRegressionSettings.get_schema())), "kind": "model"}
    for known in web.get_modeltype(name=MODEL_TYPE_NAME):
        if all(getattr(known, field) == value for field, value in wanted.items()):
            print(f"Model type {MODEL_TYPE_NAME!r}: the one registered before ({known.id})")
            return known
    return web.create_modeltype(MODEL_TYPE_NAME, short_description="Gradient descent on the CSV files of its datasets",
                                **wanted)


def run_demo(url: str, password: str, follow_url: str | None = None) -> tuple[str, str]:
    """Upload a dataset, register the example job, create and start a model through the platform at
    `url`, and follow its progress (through `follow_url`, another replica, when given).

    Returns the model's id and final status.
    """
    web = PlatformAPI(username="admin", password=password, host=url, remember_me=False)
    dataset = web.create_dataset(f"Generated samples {time.strftime('%H:%M:%S')}")
    result = upload_folder(web, make_dataset_folder(), dataset_id=dataset.id, progress=False)
    print(f"Dataset {dataset.name!r}: {result.uploaded} files uploaded ({result.bytes} bytes)")
    model_type = example_model_type(web)
    model = web.create_model(f"Logistic regression demo {time.strftime('%Y-%m-%d %H:%M:%S')}", datasets=[dataset],
                             model_type=model_type,
                             settings={"training": {"epochs": 150, "log_every": 15, "learning_rate": 0.3}})
    web.start_model_training(model)
    print(f"Model {model.id} started by the platform's runner; progress:")
    watcher = web if follow_url is None else PlatformAPI(username="admin", password=password, host=follow_url,
                                                         remember_me=False)
    final = follow(watcher, model.id)
    print(f"\nJob {final.status}; model file: {final.model_path}")
    artifacts = [entry.name for entry in watcher.get_artifacts(final, recursive=True)]
    print(f"Artifacts: {', '.join(artifacts)}")
    return model.id, final.status


def main() -> int:
    password = admin_password()
    server, url = start_server(password)
    try:
        print(f"Platform running at {url} (data in {DATA_DIR})")
        model_id, status = run_demo(url, password)
        print("\nThe platform stops now; `make serve` starts it again on the same data at http://127.0.0.1:8000,")
        print(f"where the model is http://127.0.0.1:8000/models/{model_id}")
        print("Then, with the admin password from runs/platform/admin-password.txt:")
        print("  TOKEN=$(curl -s -X POST http://127.0.0.1:8000/api/auth/token -H 'Content-Type: application/json' \\\n"
              "          -d \"{\\\"username\\\": \\\"admin\\\", \\\"password\\\": \\\"$(cat runs/platform/admin-password.txt)\\\"}\" \\\n"
              "          | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"accessToken\"])')")
        for what in ("artifacts?recursive=true", "metrics", "charts"):
            print(f"  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8000/api/models/{model_id}/{what}")
        return 0 if status == "completed" else 1
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    sys.exit(main())
