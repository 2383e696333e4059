"""The self-hosted Brevetti AI platform server (``brevettiai server``; needs the ``server`` extra).

Layout: `config` (settings), `serve` (socket, uvicorn, shutdown), `workers` (``--workers N``), `app`
(the FastAPI app and its startup), `api/` (one router per area), services (`auth`, `jobs`, `metrics`,
`charts`, `fileindex`, `validation`), state shared by replicas (`revocation`, `secret_key`, `once`),
`storage` (files through fsspec), `db/` (tables, sessions, migrations), `runners/` (local
subprocesses, dask) and `supervisor` (dispatch, process exits, heartbeat timeouts).
"""
