"""Storage on an fsspec URL instead of a local folder (``--storage memory://...``)."""

from __future__ import annotations

import hashlib
import socket
import sys

import pytest
from platform_fixture import PlatformServer
from server_helpers import dataset, model, model_type
from services import wait_for


def test_fsspec_storage(platform_server_factory: object) -> None:
    server: PlatformServer = platform_server_factory("--storage", "memory://platform")  # type: ignore[operator]
    assert not (server.data_dir / "storage").exists()
    with server.client() as admin:
        rid = dataset(admin)["id"]
        data = bytes(range(256)) * 5000
        stored = admin.put(f"/api/files/{rid}/a/b.bin", content=data).json()
        assert stored["md5"] == hashlib.md5(data).hexdigest()
        assert admin.get(f"/api/files/{rid}/a/b.bin").content == data
        assert admin.get(f"/api/files/{rid}/a/b.bin", headers={"Range": "bytes=10-19"}).content == data[10:20]
        assert admin.head(f"/api/files/{rid}/a/b.bin").headers["etag"] == f'"{stored["md5"]}"'
        assert [e["name"] for e in admin.get(f"/api/ls/{rid}/").json()] == [f"{rid}/a"]
        assert [e["name"] for e in admin.get(f"/api/ls/{rid}/", params={"recursive": "true"}).json()] == [
            f"{rid}/a/b.bin"]
        assert admin.delete(f"/api/files/{rid}/a").status_code == 204
        assert admin.get(f"/api/files/{rid}/a/b.bin").status_code == 404

        talker = model_type(admin, command=[sys.executable, "-c", "print('hello from the job')"],
                            settingsSchema={"fields": [], "presets": {}}, defaults={})
        m = model(admin, modelTypeId=talker["id"])
        assert admin.get(f"/api/files/{m['id']}/info.json").json()["id"] == m["id"]
        assert admin.post(f"/api/models/{m['id']}/start").status_code == 200
        wait_for(lambda: admin.get(f"/api/models/{m['id']}").json(), 20, every=0.1, what="the job's end",
                 until=lambda record: record["status"] in ("failed", "completed"))
        log = admin.get(f"/api/files/{m['id']}/logs/job.log")  # uploaded when the job ended
        assert log.status_code == 200 and "hello from the job" in log.text


def test_s3_storage_through_fsspec_settings(platform_server_factory: object) -> None:
    moto_server = pytest.importorskip("moto.server", reason="moto is not installed")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s3 = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket="platform")
        # fsspec reads FSSPEC_<PROTOCOL>_<OPTION> variables: the documented way to configure storage options.
        env = {"FSSPEC_S3_ENDPOINT_URL": endpoint, "FSSPEC_S3_KEY": "testing", "FSSPEC_S3_SECRET": "testing"}
        server: PlatformServer = platform_server_factory(  # type: ignore[operator]
            "--storage", "s3://platform/root", env=env)
        with server.client() as admin:
            rid = dataset(admin)["id"]
            assert admin.put(f"/api/files/{rid}/x/y.txt", content=b"in s3").status_code == 201
            assert admin.get(f"/api/files/{rid}/x/y.txt").content == b"in s3"
            assert [e["name"] for e in admin.get(f"/api/ls/{rid}/x").json()] == [f"{rid}/x/y.txt"]
            m = model(admin)
            assert admin.get(f"/api/files/{m['id']}/info.json").json()["id"] == m["id"]
            assert admin.delete(f"/api/datasets/{rid}").status_code == 204
    finally:
        s3.stop()
