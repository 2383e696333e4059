"""What crosses the wire between the SDK and the platform, defined once: both halves import it.

- `forms`: the settings-form vocabulary (the fields a settings class exports) and the validation of
  settings against a form, done by the same pydantic rules as the job's settings class.
- `status`: a job's statuses and their transitions (`TRANSITIONS`, `may_move`), which are final, which a job may
  report, and the named sets where each of the server's moves may begin.
- `wire`, `records`, `reports`, `requests`: the records on the wire (camelCase): what the platform answers with
  (users, tokens, tags, datasets, model types, models/reports, artifact entries) and what a job sends
  (state, exit, metric points, the columnar metrics Content-Type) and is answered (heartbeat), and the
  bodies the web API takes (datasets, tags, model types, models, reports; built by `platform.web_api`).
- `info`: the keys of a job's info.json (a TypedDict: the server writes it, the SDK's `Job` reads it).
"""
