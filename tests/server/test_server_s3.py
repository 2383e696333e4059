"""S3 storage against a real SeaweedFS: direct (presigned) transfer, listings across servers, start-up errors.

The AWS_* variables reach the server process only: the test process (the job, the uploader) holds
no S3 credentials, so every byte it moves straight to the bucket went through a presigned URL.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import dataset, job_client, model
from services import S3RequestCounter, SeaweedFS, free_port

MiB = 1 << 20


@pytest.fixture
def s3_server(seaweedfs: SeaweedFS, platform_server_factory: object) -> tuple[PlatformServer, str]:
    bucket = seaweedfs.new_bucket()
    server: PlatformServer = platform_server_factory(  # type: ignore[operator]
        "--storage", f"s3://{bucket}/platform", env=seaweedfs.env)
    return server, bucket


def _job(server: PlatformServer, admin: httpx.Client, **fields: object) -> tuple[str, str]:
    created = model(admin, **fields)
    return created["id"], created["apiKey"]


def test_no_aws_credentials_in_the_test_process() -> None:
    secrets = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "FSSPEC_S3_KEY",
               "FSSPEC_S3_SECRET")
    assert not [name for name in secrets if name in os.environ]


def test_job_io_moves_artifacts_straight_to_the_bucket(s3_server: tuple[PlatformServer, str], seaweedfs: SeaweedFS,
                                                       tmp_path: Path) -> None:
    from brevettiai import Job
    from brevettiai.platform._body import DIRECT_BODY_MIN
    from brevettiai.platform.filesystem import PlatformFileSystem

    server, bucket = s3_server
    data = os.urandom(DIRECT_BODY_MIN + 3 * MiB + 17)  # large enough to be received from the socket itself
    md5 = hashlib.md5(data).hexdigest()
    (tmp_path / "big.bin").write_bytes(data)
    with server.client() as admin:
        job_id, key = _job(server, admin)
        job = Job.init(job_id=job_id, api_key=key, host=server.url, argv=[])
        job.io.copy(str(tmp_path / "big.bin"), job.artifact_path("big.bin"))
        # in the bucket under the server's prefix, exactly these bytes
        assert seaweedfs.filesystem().cat_file(f"{bucket}/platform/{job_id}/artifacts/big.bin") == data
        # the server's view: size, md5 as ETag, listing
        head = admin.head(f"/api/files/{job_id}/artifacts/big.bin")
        assert (head.status_code, head.headers["content-length"], head.headers["etag"]) == (200, str(len(data)),
                                                                                          f'"{md5}"')
        listed = {e["name"]: e for e in admin.get(f"/api/ls/{job_id}/artifacts").json()}
        assert (listed[f"{job_id}/artifacts/big.bin"]["size"], listed[f"{job_id}/artifacts/big.bin"]["md5"]) == (
            len(data), md5)
        job.io.copy(job.artifact_path("big.bin"), str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == data
        assert job.io.read_file(job.artifact_path("big.bin"), cache=False) == data
        assert job.io.read_file(job.artifact_path("big.bin"), cache=False)[:0] == b""
        fs = PlatformFileSystem(host=server.url, api_key=key)
        with fs.open(f"{job_id}/artifacts/big.bin", "rb") as handle:  # ranges: seek, then read on
            handle.seek(MiB)
            assert handle.read(10) == data[MiB:MiB + 10]
            assert handle.read() == data[MiB + 10:]
            handle.seek(5)
            assert handle.read(5) == data[5:10]
        with pytest.raises(FileNotFoundError):
            fs.cat_file(f"{job_id}/artifacts/missing.bin")  # S3's own 404 behind the redirect
        with open(tmp_path / "big.bin", "rb") as handle:  # an open file, sent from where it stands
            handle.seek(100)
            job.io.write_file(job.artifact_path("from-handle.bin"), handle)
        assert seaweedfs.filesystem().cat_file(f"{bucket}/platform/{job_id}/artifacts/from-handle.bin") == data[100:]
        job.io.write_file(job.artifact_path("small.txt"), "small")  # below the direct-write size: through the server
        assert admin.get(f"/api/files/{job_id}/artifacts/small.txt").text == "small"
        # nothing but the job's own keys below the prefix: no temporary objects left behind
        assert [p.rsplit("/", 1)[1] for p in seaweedfs.filesystem().ls(f"{bucket}/platform")] == [job_id]


def test_presigned_urls_are_scoped_to_one_object_and_to_the_job_key(s3_server: tuple[PlatformServer, str],
                                                                    seaweedfs: SeaweedFS) -> None:
    server, _ = s3_server
    with server.client() as admin:
        data_id = dataset(admin)["id"]
        admin.put(f"/api/files/{data_id}/images/a.png", content=b"png")
        job_id, key = _job(server, admin, datasetIds=[data_id])
        other_id, _ = _job(server, admin)
        with job_client(server.url, key) as job:
            answer = job.post(f"/api/transfer/{job_id}", json={"method": "PUT", "files": [
                {"path": "artifacts/x.bin", "size": 3}]}).json()
            assert answer["direct"] is True and answer["expiresIn"] > 0
            url = answer["urls"][0]["url"]
            assert url.startswith(seaweedfs.endpoint + "/") and "X-Amz-Signature" in url
            assert httpx.put(url, content=b"abcd").status_code == 403  # the length is signed: the upload limit holds
            assert httpx.put(url, content=b"abc").status_code == 200
            assert admin.get(f"/api/files/{job_id}/artifacts/x.bin").content == b"abc"
            # the same signature for another key is refused by S3 itself
            assert httpx.put(url.replace("artifacts/x.bin", "artifacts/y.bin"), content=b"abc").status_code == 403
            # the job key's rules hold: no writing datasets, other jobs or info.json; reading its dataset is fine
            for rid, path in ((data_id, "images/b.png"), (other_id, "artifacts/x.bin"), (job_id, "info.json")):
                refused = job.post(f"/api/transfer/{rid}", json={"method": "PUT", "files": [{"path": path, "size": 1}]})
                assert refused.status_code in (403, 404), (rid, path, refused.text)  # as for PUT /api/files
            assert job.post(f"/api/transfer/{other_id}", json={"method": "GET", "files": [
                {"path": "info.json"}]}).status_code in (403, 404)
            read = job.get(f"/api/files/{data_id}/images/a.png", headers={"X-Direct-Transfer": "allowed"})
            assert read.status_code == 307 and "X-Amz-Signature" in read.headers["location"]
            assert httpx.get(read.headers["location"]).content == b"png"
            assert job.get(f"/api/files/{other_id}/info.json",
                           headers={"X-Direct-Transfer": "allowed"}).status_code in (403, 404)
            too_big = job.post(f"/api/transfer/{job_id}", json={"method": "PUT", "files": [
                {"path": "artifacts/huge.bin", "size": 11 << 30}]})
            assert too_big.status_code == 413
            bad = job.post(f"/api/transfer/{job_id}", json={"method": "PUT", "files": [{"path": "../x", "size": 1}]})
            assert bad.status_code == 400
            unsized = job.post(f"/api/transfer/{job_id}", json={"method": "PUT", "files": [{"path": "a.bin"}]})
            assert unsized.status_code == 400 and "size" in unsized.json()["detail"]
            # without the header, a GET streams through the server as before
            assert job.get(f"/api/files/{data_id}/images/a.png").content == b"png"


def test_upload_data_goes_straight_to_the_bucket_and_resumes_by_md5(s3_server: tuple[PlatformServer, str],
                                                                    seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    from brevettiai.platform.web_api import PlatformAPI
    from brevettiai.utils.upload_data import upload_folder

    server, _ = s3_server
    folder = tmp_path / "images"
    files = {f"class{i % 3}/img{i}.bin": os.urandom(10_000 + i) for i in range(40)}
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    web = PlatformAPI(username="admin", password=server.admin_password, host=server.url)
    try:
        first = upload_folder(web, folder, dataset_name="s3-images", progress=False)
        assert (first.uploaded, first.skipped, first.failed) == (40, 0, 0), (first.errors[:1], seaweedfs.log_problems())
        listed = {e["name"].split("/", 1)[1]: e for e in web.ls(first.dataset.id, recursive=True)}
        assert {name: (e["size"], e["md5"]) for name, e in listed.items()} == {
            name: (len(content), hashlib.md5(content).hexdigest()) for name, content in files.items()}
        (folder / "class0/img0.bin").write_bytes(b"changed")
        again = upload_folder(web, folder, dataset_name="s3-images", progress=False)
        assert (again.uploaded, again.skipped, again.failed) == (1, 39, 0)
        with server.client() as admin:
            got = admin.get(f"/api/files/{first.dataset.id}/class0/img0.bin")
            assert got.content == b"changed" and got.headers["etag"] == f'"{hashlib.md5(b"changed").hexdigest()}"'
    finally:
        web.close()


def test_a_server_sees_files_another_server_wrote_after_it_listed(seaweedfs: SeaweedFS, platform_server_factory: object,
                                                                  tmp_path: Path) -> None:
    bucket = seaweedfs.new_bucket()
    shared = ["--storage", f"s3://{bucket}/p", "--database-url", f"sqlite:///{tmp_path / 'shared.db'}"]
    first: PlatformServer = platform_server_factory(*shared, env=seaweedfs.env)  # type: ignore[operator]
    second: PlatformServer = platform_server_factory(*shared, env=seaweedfs.env)  # type: ignore[operator]
    with first.client() as admin_a, second.client() as admin_b:
        job_id, key = _job(first, admin_a)
        with job_client(first.url, key) as on_a, job_client(second.url, key) as on_b:
            assert on_a.put(f"/api/files/{job_id}/artifacts/one.txt", content=b"1").status_code == 201
            assert [e["name"] for e in on_a.get(f"/api/ls/{job_id}/artifacts").json()] == [
                f"{job_id}/artifacts/one.txt"]
            assert on_a.get(f"/api/files/{job_id}/artifacts/two.txt").status_code == 404
            assert on_b.put(f"/api/files/{job_id}/artifacts/two.txt", content=b"22").status_code == 201
            # at once, no waiting: server A keeps no listing of its own
            assert [e["name"] for e in on_a.get(f"/api/ls/{job_id}/artifacts").json()] == [
                f"{job_id}/artifacts/one.txt", f"{job_id}/artifacts/two.txt"]
            assert on_a.get(f"/api/files/{job_id}/artifacts/two.txt").content == b"22"
            assert on_b.delete(f"/api/files/{job_id}/artifacts/one.txt").status_code == 204
            assert on_a.get(f"/api/files/{job_id}/artifacts/one.txt").status_code == 404
            assert admin_b.get(f"/api/ls/{job_id}/", params={"recursive": "true"}).status_code == 200


def test_a_small_file_put_through_the_server_is_one_s3_request(seaweedfs: SeaweedFS,
                                                                platform_server_factory: object) -> None:
    bucket = seaweedfs.new_bucket()
    counter = S3RequestCounter(seaweedfs.endpoint)
    try:
        server: PlatformServer = platform_server_factory(  # type: ignore[operator]
            "--storage", f"s3://{bucket}/p", env={**seaweedfs.env, "AWS_ENDPOINT_URL": counter.url})
        with server.client() as admin:
            job_id, key = _job(server, admin)
            with job_client(server.url, key) as job:
                counter.take()
                for i in range(10):
                    assert job.put(f"/api/files/{job_id}/small/{i}.bin", content=os.urandom(10_000)).status_code == 201
                assert counter.take() == {"PUT": 10}  # no temporary key, copy, delete or existence check
                listed = job.get(f"/api/ls/{job_id}/small").json()
                assert len(listed) == 10 and all(e["md5"] for e in listed)
                assert counter.take() == {"GET": 1}  # the md5s come with the listing (ETags)
    finally:
        counter.close()


def _start_fails(tmp_path: Path, storage: str, env: dict[str, str]) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BREVETTI_AI_", "AWS_"))}
    proc = subprocess.run([sys.executable, "-m", "brevettiai.cli", "server", "--port", "0", "--data-dir",
                           str(tmp_path / "data"), "--storage", storage], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stderr + proc.stdout


@pytest.mark.parametrize("problem", ["credentials", "bucket", "endpoint"])
def test_misconfigured_s3_stops_the_server_with_one_line(problem: str, seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    env, bucket = dict(seaweedfs.env), "b-existing"
    if problem == "credentials":
        bucket = seaweedfs.new_bucket()
        env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
    elif problem == "bucket":
        bucket = "b-missing-bucket"
    else:
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    code, output = _start_fails(tmp_path, f"s3://{bucket}/p", env)
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1, output
    assert lines[0].startswith(f"error: --storage s3://{bucket}/p: ") and "Traceback" not in output
    expected = {"credentials": "refused access", "bucket": "does not exist", "endpoint": "cannot reach"}[problem]
    assert expected in lines[0]
    assert env["AWS_SECRET_ACCESS_KEY"] not in output
