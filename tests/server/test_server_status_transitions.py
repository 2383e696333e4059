"""The status table of `brevettiai.contract.status` is what the real server does.

Every way a client changes a job's status (start, start by hand, stop, the four reports, a heartbeat, a run's
exit or loss, a claim) is tried on a fresh job in each of the eight statuses. A change the server makes must be
one `may_move` allows, a refused one answers 409 and changes nothing, each move starts exactly from its named
set, and the moves seen (plus the dispatcher's launch, watched at the end) are the whole table.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

import httpx
from platform_fixture import PlatformServer
from server_helpers import model, model_type
from services import wait_for

from brevettiai.contract.status import (
    CLAIMABLE,
    JOB_STATUSES,
    KILLED_AT_ONCE,
    REPORTED_STATUSES,
    REVIVED,
    STARTABLE,
    TERMINAL,
    TRANSITIONS,
    WATCHED,
    JobStatus,
    may_move,
)

Op = Callable[[httpx.Client, str, str], httpx.Response]


def _report(status: str) -> Op:
    return lambda client, job_id, _: client.post(f"/api/jobs/{job_id}/state", json={"status": status})


OPS: dict[str, Op] = {
    "start": lambda client, job_id, _: client.post(f"/api/models/{job_id}/start"),
    "start by hand": lambda client, job_id, _: client.post(f"/api/models/{job_id}/start", params={"launch": "false"}),
    "stop": lambda client, job_id, _: client.post(f"/api/models/{job_id}/stop"),
    **{f"report {status}": _report(status) for status in REPORTED_STATUSES},
    "heartbeat": lambda client, job_id, _: client.post(f"/api/jobs/{job_id}/heartbeat"),
    "run lost": lambda client, job_id, run: client.post(f"/api/jobs/{job_id}/exit", json={"runId": run, "lost": True}),
    "run exited": lambda client, job_id, run: client.post(f"/api/jobs/{job_id}/exit", json={"runId": run, "code": 1}),
    "claim": lambda client, job_id, run: client.post(f"/api/jobs/{job_id}/claim", json={"runId": run}),
}

# Where each operation is accepted (200) and what it moves the job to; None: it keeps the status.
ACCEPTED_FROM: dict[str, frozenset[str]] = {
    "start": STARTABLE, "start by hand": STARTABLE, "claim": CLAIMABLE,
    "run lost": frozenset(s for s in JOB_STATUSES if may_move(s, "lost") or s in TERMINAL),  # an ended run: ignored
    **{f"report {status}": frozenset(s for s in JOB_STATUSES if may_move(s, status)) for status in REPORTED_STATUSES},
}
MOVES_FROM: dict[str, tuple[frozenset[str], str]] = {
    "start": (STARTABLE, "queued"), "start by hand": (STARTABLE, "starting"), "stop": (KILLED_AT_ONCE, "killed"),
    "heartbeat": (REVIVED, "running"),
    "run lost": (frozenset(s for s in JOB_STATUSES if s != "lost" and may_move(s, "lost")), "lost"),
    "run exited": (frozenset(s for s in JOB_STATUSES if s not in TERMINAL), "failed"),
    **{f"report {status}": (frozenset(s for s in JOB_STATUSES if s != status and may_move(s, status)), status)
       for status in REPORTED_STATUSES},
}


class Jobs:
    """Jobs of one model type brought to a status through the API."""

    def __init__(self, admin: httpx.Client, type_id: str) -> None:
        self.admin, self.type_id = admin, type_id
        self.made: list[str] = []

    def status(self, job_id: str) -> str:
        return self.admin.get(f"/api/models/{job_id}").json()["status"]

    def run_id(self, job_id: str) -> str:
        return self.admin.get(f"/api/jobs/{job_id}/info").json()["run_id"]

    def new(self, status: str) -> str:
        job_id = model(self.admin, modelTypeId=self.type_id)["id"]
        self.made.append(job_id)
        if status != "created":
            launch = {} if status == "queued" else {"launch": "false"}
            assert self.admin.post(f"/api/models/{job_id}/start", params=launch).status_code == 200
        if status in REPORTED_STATUSES:
            assert self.admin.post(f"/api/jobs/{job_id}/state", json={"status": status}).status_code == 200
        if status == "lost":
            lost = self.admin.post(f"/api/jobs/{job_id}/exit", json={"runId": self.run_id(job_id), "lost": True})
            assert lost.status_code == 200, lost.text
        assert self.status(job_id) == status
        return job_id


def test_the_server_moves_a_job_exactly_as_the_status_table_says(platform_server_factory: Any) -> None:
    # One job started by hand and never heard from holds the only place: started jobs stay queued until the end.
    server: PlatformServer = platform_server_factory("--max-running-jobs", "1", "--heartbeat-timeout", "1h")
    with server.client() as admin:
        type_id = model_type(admin, command=[sys.executable, "-c", "import time; time.sleep(600)"])["id"]
        jobs = Jobs(admin, type_id)
        holder = jobs.new("starting")
        seen: set[tuple[str, str]] = set()
        wrong: list[str] = []
        left_queued: list[str] = []
        for old in JOB_STATUSES:
            for name, op in OPS.items():
                job_id = jobs.new(old)
                answer = op(admin, job_id, jobs.run_id(job_id))
                now = cast(JobStatus, jobs.status(job_id))
                accepted = answer.status_code == 200
                if accepted != (old in ACCEPTED_FROM.get(name, frozenset(JOB_STATUSES))):
                    wrong.append(f"{name} on a {old} job answered {answer.status_code}: {answer.text}")
                if not accepted and answer.status_code != 409:
                    wrong.append(f"{name} on a {old} job was refused with {answer.status_code}, not 409: {answer.text}")
                sources, target = MOVES_FROM.get(name, (frozenset(), old))
                expected = target if old in sources else old
                if now != expected:
                    wrong.append(f"{name} moved a {old} job to {now}; the table says {expected}")
                if now != old:
                    seen.add((old, now))
                    if not may_move(old, now):
                        wrong.append(f"{name} moved a {old} job to {now}, which the table forbids")
                if now == "queued":
                    left_queued.append(job_id)
        assert not wrong, "\n".join(wrong)

        # The dispatcher's move: once the place is free, the one queued job left is launched (starting).
        launched = left_queued[0]
        for job_id in left_queued[1:]:
            assert admin.post(f"/api/models/{job_id}/stop").json()["status"] == "killed"
        for job_id in [holder, *jobs.made]:
            if jobs.status(job_id) in WATCHED:
                assert admin.post(f"/api/jobs/{job_id}/state", json={"status": "killed"}).status_code == 200
        wait_for(lambda: jobs.status(launched) == "starting", timeout=60, what="the queued job launched")
        seen.add(("queued", "starting"))
        admin.post(f"/api/models/{launched}/stop")
        wait_for(lambda: jobs.status(launched) == "killed", timeout=60, what="the launched job stopped")

    table = {(old, new) for old, targets in TRANSITIONS.items() for new in targets if new != old}
    assert seen == table


def test_the_table_keeps_final_statuses_final_and_lost_recoverable() -> None:
    statuses: tuple[JobStatus, ...] = JOB_STATUSES
    for old in statuses:
        assert may_move(old, old)
        for new in statuses:
            if old in TERMINAL and new != old:
                assert not may_move(old, new), (old, new)
    assert all(may_move("lost", status) for status in REPORTED_STATUSES)
    assert not may_move("lost", "starting") and not may_move("created", "lost")
