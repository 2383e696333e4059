"""The server on PostgreSQL: a throwaway cluster (Debian's postgresql package) in a temp dir.

Skipped, saying why, when initdb/pg_ctl or the psycopg driver are missing.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

from platform_fixture import PlatformServer
from server_helpers import created, dataset, job_client, model, model_type


def test_the_platform_on_postgresql(postgres_url: str, platform_server_factory: object) -> None:
    server: PlatformServer = platform_server_factory("--database-url", postgres_url)  # type: ignore[operator]
    assert "PostgresqlImpl" in server.log()
    with server.client() as admin:
        root = created(admin.post("/api/tags", json={"name": "root"}))
        leaf = created(admin.post("/api/tags", json={"name": "leaf", "parentId": root["id"]}))
        ds = dataset(admin, tagIds=[leaf["id"]])
        assert admin.put(f"/api/files/{ds['id']}/a.txt", content=b"old").status_code == 201
        assert admin.put(f"/api/files/{ds['id']}/a.txt", content=b"pg").status_code == 201  # the md5 record updated
        assert admin.get(f"/api/files/{ds['id']}/a.txt").headers["etag"] == f'"{hashlib.md5(b"pg").hexdigest()}"'
        # an archive over files already recorded, naming one twice: one record each, the last content's md5
        assert admin.put(f"/api/files/{ds['id']}/b.txt", content=b"0").status_code == 201
        twice = io.BytesIO()
        with tarfile.open(fileobj=twice, mode="w") as tar:
            for name, content in (("b.txt", b"1"), ("c.txt", b"2"), ("b.txt", b"3")):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        assert admin.put(f"/api/archive/{ds['id']}", content=twice.getvalue()).status_code == 201
        listed = {e["name"]: e["md5"] for e in admin.get(f"/api/ls/{ds['id']}").json()}
        assert listed == {f"{ds['id']}/{name}": hashlib.md5(content).hexdigest()
                          for name, content in (("a.txt", b"pg"), ("b.txt", b"3"), ("c.txt", b"2"))}
        mt = model_type(admin)
        assert admin.post("/api/models", json={"name": "bad", "modelTypeId": mt["id"],
                                               "settings": {"epochs": 1000}}).status_code == 422
        m = model(admin, modelTypeId=mt["id"], datasetIds=[ds["id"]], tagIds=[root["id"]], settings={"epochs": 3})
        assert admin.get("/api/models", params={"q": m["name"][-8:]}).json()["total"] == 1
        with job_client(server.url, m["apiKey"]) as job:
            api = f"/api/jobs/{m['id']}"
            assert job.get(f"/api/files/{ds['id']}/a.txt").content == b"pg"
            assert job.post(api + "/state", json={"status": "running"}).status_code == 200
            batch = {"batchId": "one", "points": [{"step": i, "time": float(i), "values": {"loss": 1.0 / (i + 1)}}
                                                  for i in range(1000)]}
            assert job.post(api + "/metrics", json=batch).json() == {"accepted": 1000}
            assert job.post(api + "/metrics", json=batch).json() == {"accepted": 1000}
            assert job.put(api + "/charts/c", json={"mark": "line"}).status_code == 204
            assert job.post(api + "/state", json={"status": "completed", "modelPath": "m"}).status_code == 200
            assert job.post(api + "/state", json={"status": "failed"}).status_code == 409
        series = admin.get(f"/api/models/{m['id']}/metrics").json()["series"]["loss"]
        assert len(series) == 1000 and series[1][:2] == [1, 0.5]
        assert admin.get(f"/api/models/{m['id']}/charts").json() == {"c": {"mark": "line"}}
        edited = admin.patch(f"/api/models/{m['id']}", json={"notes": "**why** ✓", "tagIds": [leaf["id"]]}).json()
        assert edited["notes"] == "**why** ✓" and edited["tagIds"] == [leaf["id"]]  # the notes column (0007)
        assert admin.delete(f"/api/tags/{root['id']}").status_code == 204
        assert admin.get(f"/api/tags/{leaf['id']}").status_code == 404
    server.restart()
    with server.client() as admin:
        assert admin.get(f"/api/models/{m['id']}").json()["status"] == "completed"
        assert admin.delete(f"/api/models/{m['id']}").status_code == 204
        assert admin.get(f"/api/models/{m['id']}/metrics").status_code == 404
        assert admin.delete(f"/api/modeltypes/{mt['id']}").status_code == 204
