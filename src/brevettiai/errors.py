"""The one error hierarchy of brevettiai.

Every error a user can cause names the field, flag or file involved, what was given and what is
accepted. Errors caused by how a job was started (bad flags, a missing info.json) are `UsageError`s:
they are ordinary exceptions for code that catches them, and when nobody does, the interpreter exits
with code 2 and no traceback, like a command-line tool rejecting its arguments.

``--help`` is not an error: `brevettiai.settings.overrides.HelpRequested` is a plain `SystemExit`
with code 0 (like argparse's), so ``except BrevettiError``/``except Exception`` never catch it.
The platform server's errors derive from `ServerError`.
"""

from __future__ import annotations


class BrevettiError(Exception):
    """Base class of every error raised by brevettiai."""


class UsageError(BrevettiError, SystemExit):
    """The job was started wrongly; uncaught, it ends the process with exit code 2 and no traceback.

    It derives from `SystemExit` so that an uncaught one exits quietly with ``code`` 2, and from
    `Exception` (through `BrevettiError`) so that ``except Exception`` and ``except BrevettiError``
    still catch it in notebooks and tests. The message is logged when the error is raised by the
    job entry points, because an uncaught `SystemExit` prints nothing itself.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = 2

    def __str__(self) -> str:
        return self.message


class JobNotFoundError(UsageError):
    """No job could be located from the arguments, the command line and the environment."""


class SettingsError(UsageError, ValueError):
    """Settings (from info.json, the command line or code) do not fit the declared settings types."""


class ServerError(BrevettiError):
    """Root of the platform server's own errors (refused requests, bad configuration, refused paths)."""


class StoragePathError(BrevettiError, ValueError):
    """A storage path or artifact name is not acceptable (absolute, escaping its root, or a URL)."""


class StorageError(BrevettiError, OSError):
    """Reading or writing job storage failed."""


class JobStateError(BrevettiError, RuntimeError):
    """An operation does not fit the job's current lifecycle state."""


class PlatformError(BrevettiError):
    """The platform answered a request with an error; `status` is the HTTP status (0 when unreachable)."""

    def __init__(self, message: str, status: int = 0, detail: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class PlatformUnavailableError(PlatformError, ConnectionError):
    """The platform could not be reached, or kept failing, after all retries."""


class PlatformAuthError(PlatformError, PermissionError):
    """The platform refused the job key or user token (401/403)."""


class PlatformNotFoundError(PlatformError, LookupError):
    """The platform has no such object, or does not let this key see it (404)."""


class PlatformValidationError(PlatformError, ValueError):
    """The platform rejected the request's content (400/409/413/422); `detail` lists the fields."""


class PlatformConfigError(PlatformError, ValueError):
    """The client was not told enough to reach or log in to a platform (no host, no credentials)."""
