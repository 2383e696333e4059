"""An acknowledged metrics batch is committed: a server killed (SIGKILL) while clients keep posting
loses none of the batches it answered 200, and restarts with them stored."""

from __future__ import annotations

import itertools
import threading

import httpx
from platform_fixture import PlatformServer
from server_helpers import job_client, model
from services import wait_for


def test_a_server_killed_right_after_answering_200_has_stored_every_acknowledged_batch(
        fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    with server.client() as admin:
        job = model(admin)
    path = f"/api/jobs/{job['id']}/metrics"
    steps = itertools.count()
    acknowledged: list[int] = []
    lock = threading.Lock()

    def client() -> None:  # posts 1-point batches, each at a step of its own, until the server is gone
        with job_client(server.url, job["apiKey"]) as key:
            while True:
                step = next(steps)
                try:
                    answer = key.post(path, json={"batchId": f"b{step}", "points": [{"step": step, "values": {"x": 1}}]})
                except httpx.HTTPError:
                    return
                assert answer.status_code == 200, answer.text
                with lock:
                    acknowledged.append(step)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 300, 60, what="300 acknowledged batches")
    server.kill()  # SIGKILL while the clients keep sending: no shutdown that could store what is queued
    for thread in threads:
        thread.join(30)
    with lock:
        answered = set(acknowledged)
    server.start()
    with server.client() as admin:
        stored = {step for step, _, _ in admin.get(f"/api/models/{job['id']}/metrics").json()["series"]["x"]}
    assert answered <= stored, f"{len(answered - stored)} acknowledged batches were lost"
