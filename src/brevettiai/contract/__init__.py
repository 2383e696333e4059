"""What crosses the wire between the SDK and the platform, defined once: both halves import it.

- `forms`: the settings-form vocabulary (the fields a settings class exports) and the validation of
  settings against a form, done by the same pydantic rules as the job's settings class.
- `status`: a job's statuses, which are final, and which a job may report.
"""
