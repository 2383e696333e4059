"""Metric ingestion throughput against the real server process.

The test checks that nothing is lost or doubled under load; the rates are only printed (``pytest -s``)
because timings are the benchmarks' business (bench/), never a test's.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from platform_fixture import PlatformServer
from server_helpers import model


class _Connection:
    """A keep-alive HTTP/1.1 connection that posts JSON and reads the status of the answer."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token

    def post(self, path: str, body: bytes) -> int:
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.token}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        while len(rest) < length:
            rest += self.sock.recv(65536)
        return int(head.split(b" ")[1])

    def close(self) -> None:
        self.sock.close()


@pytest.mark.slow
def test_metric_ingestion_under_load_keeps_every_point(platform_server: PlatformServer) -> None:
    with platform_server.client() as admin:
        job = model(admin)
    path = f"/api/jobs/{job['id']}/metrics"

    bodies = [json.dumps({"batchId": uuid.uuid4().hex, "points": [
        {"step": b * 5000 + i, "time": 1.0, "values": {"loss": 0.5}} for i in range(5000)]}).encode()
        for b in range(12)]
    connection = _Connection(platform_server.url, job["apiKey"])
    assert connection.post(path, bodies[0]) == 200  # warm-up
    started = time.perf_counter()
    for body in bodies[1:]:
        assert connection.post(path, body) == 200
    bulk = 5000 * (len(bodies) - 1) / (time.perf_counter() - started)
    connection.close()

    counts = [0] * 8
    stop_at = time.perf_counter() + 2.0

    def client(index: int) -> None:
        own = _Connection(platform_server.url, job["apiKey"])
        while time.perf_counter() < stop_at:
            body = b'{"batchId":"%s","points":[{"step":1,"time":1.0,"values":{"acc":0.5}}]}' % uuid.uuid4().hex.encode()
            assert own.post(path, body) == 200
            counts[index] += 1
        own.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(client, i) for i in range(8)]:
            done.result()  # an assert in a client thread fails this test
    small = sum(counts) / (time.perf_counter() - started)
    print(f"\ningestion: {bulk:,.0f} points/s in 5000-point batches; {small:,.0f} requests/s of 1-point "
          f"batches from 8 clients")
    with platform_server.client() as admin:
        stored = admin.get(f"/api/models/{job['id']}/metrics").json()["counts"]
    # Every point of every batch is stored exactly once, however many clients post at once. The rates
    # are printed for information; the figures that count are bench/bench_platform_metrics.py's.
    assert stored == {"loss": 5000 * len(bodies), "acc": sum(counts)}
