"""What the platform commands (`upload-data`, `sync`) share: login options, logging in, exit codes.

Exit codes: 0 done, 1 the platform could not be reached or refused the work, 2 bad input (the
message names the flag, the file or the record).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from brevettiai._env import env_value
from brevettiai.errors import (
    BrevettiError,
    PlatformAuthError,
    PlatformNotFoundError,
    PlatformUnavailableError,
    PlatformValidationError,
    UsageError,
)

if TYPE_CHECKING:
    from brevettiai.platform.web_api import PlatformAPI


def add_login_options(parser: argparse.ArgumentParser) -> None:
    """--host, --username, --password and --token, with their environment defaults."""
    parser.add_argument("--host", help="platform URL (default: $BREVETTI_AI_HOST)")
    parser.add_argument("--token", help="a personal access token instead of a username and password "
                                        "(default: $BREVETTI_AI_TOKEN; the variable keeps it out of process lists)")
    parser.add_argument("--username", help="user name (default: $BREVETTI_AI_USER, else the saved login)")
    parser.add_argument("--password", help="password (default: $BREVETTI_AI_PW; prompted on a terminal)")


def login(args: argparse.Namespace) -> PlatformAPI:
    """A logged-in `PlatformAPI` from the arguments, the environment, a terminal prompt, or the saved login.

    A missing host or login is told in the command's own words (its flags), not the Python client's.
    """
    from brevettiai.platform.web_api import PlatformAPI

    if not (args.host or env_value("host")):
        raise UsageError("no platform given: pass --host URL (or set BREVETTI_AI_HOST)")
    token = getattr(args, "token", None)
    if token or (not args.username and env_value("token")):
        return PlatformAPI(token=token or env_value("token"), host=args.host, remember_me=False)
    username = args.username or env_value("username")
    password = args.password or env_value("password")
    try:
        return PlatformAPI(username=username, password=password, host=args.host)
    except PlatformAuthError as exc:
        if username and not password and sys.stdin.isatty():
            password = getpass.getpass(f"Password for {username}: ") or None
            return PlatformAPI(username=username, password=password, host=args.host)
        if username and password:
            raise
        raise PlatformAuthError(f"{exc.args[0].split(': log in with', 1)[0]}: pass --username and --password "
                                f"(or set BREVETTI_AI_USER and BREVETTI_AI_PW)", exc.status, exc.detail) from None


def run_with_platform(args: argparse.Namespace, work: Callable[[PlatformAPI], int]) -> int:
    """Log in and run `work(web)`; every error becomes one ``error:`` line and its exit code."""
    if not logging.root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        web = login(args)
    except PlatformUnavailableError as exc:
        return _error(exc, 1)
    except BrevettiError as exc:
        return _error(exc, 2)
    try:
        return work(web)
    except (UsageError, PlatformNotFoundError, PlatformValidationError) as exc:
        return _error(exc, 2)
    except (BrevettiError, OSError) as exc:
        return _error(exc, 1)
    finally:
        web.close()


def _error(exc: BaseException, code: int) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return code
