"""``brevettiai user ...`` (on the server's database, like ``migrate``) and ``brevettiai token ...`` (against a
running server, logged in with a username and password or a token)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from brevettiai._cli_help import FlagsCommand, FlagsGroup

if TYPE_CHECKING:
    from brevettiai.server.db.session import Database

T = TypeVar("T")

user_app = typer.Typer(cls=FlagsGroup, no_args_is_help=True, help="Manage the platform's users (works on the server's database).")
token_app = typer.Typer(cls=FlagsGroup, no_args_is_help=True, help="Personal access tokens for scripts (against a running server).")

ROLE_HELP = "viewer (reads), member (also creates, starts, stops, deletes) or admin (also manages users)"
GENERATE = typer.Option("--generate-password", help="Generate a password and show it once (instead of a prompt).")
FROM_STDIN = typer.Option("--password-stdin", help="Read the password from the first line of standard input.")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _database(flags: dict[str, str | None]) -> Iterator[Database]:
    """The server's database (its schema brought up to date), with the CLI as the audit log's actor."""
    from brevettiai.cli import _server_config

    config = _server_config(flags).resolved()
    try:
        from brevettiai.server import audit
        from brevettiai.server.db.migrate import upgrade
        from brevettiai.server.db.session import Database
        from brevettiai.server.serve import configure_logging
    except ImportError as exc:
        raise _fail(f"user commands need the server extra: pip install 'brevettiai[server]' ({exc})", 2) from None
    configure_logging("warning")
    database = Database(config.database_url or "")
    try:
        upgrade(database.engine)
        with audit.acting_as(audit.Actor(None, f"cli:{getpass.getuser()}", "local")):
            yield database
    finally:
        database.dispose()


def _checked(work: Callable[[], T]) -> T:
    """Run a change; a refused one (bad name, role, password; unknown user) is one error line."""
    from brevettiai.server.users import UserError

    try:
        return work()
    except UserError as exc:
        raise _fail(str(exc), 2 if exc.status == 400 else 1) from None


def _new_password(generate: bool, from_stdin: bool, username: str) -> tuple[str, bool]:
    """The password to set (and whether it was generated, so it must be shown): generated, from stdin or prompted."""
    from brevettiai.server import passwords, security

    if generate:
        return security.new_password(), True
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    while True:
        password = typer.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)
        try:
            passwords.check_password(password, username)
            return password, False
        except passwords.WeakPassword as exc:
            typer.echo(f"{exc}", err=True)


def _show_generated(username: str, password: str) -> None:
    typer.echo(f"Password of {username}: {password}\n(shown only this once)")


def register(app: typer.Typer, with_server_settings: Callable[..., Callable[[Callable[..., None]],
                                                                           Callable[..., None]]]) -> None:
    """Add ``user`` and ``token`` to the ``brevettiai`` command (`with_server_settings`: the CLI's settings options)."""
    @user_app.command("add", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_add(name: Annotated[str, typer.Argument(help="The new user's name")],
                 role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "member",
                 generate_password: Annotated[bool, GENERATE] = False,
                 password_stdin: Annotated[bool, FROM_STDIN] = False, **flags: str | None) -> None:
        """Add a user (password prompted, read from stdin, or generated and shown once)."""
        from brevettiai.server import roles, users

        _checked(lambda: users.check_username(name))
        if role not in roles.ROLES:
            raise _fail(f"--role {role!r} is not one of {', '.join(roles.ROLES)}", 2)
        password, generated = _new_password(generate_password, password_stdin, name)
        with _database(flags) as database:
            user = _checked(lambda: users.add_user(database, name, role, password))
        typer.echo(f"added user {user.username} ({user.role})")
        if generated:
            _show_generated(user.username, password)


    @user_app.command("list", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_list(**flags: str | None) -> None:
        """List the users: name, role, enabled or disabled, created."""
        from brevettiai.server import users

        with _database(flags) as database:
            rows = users.list_users(database)
        width = max([len(row.username) for row in rows] + [4])
        typer.echo(f"{'name':<{width}}  {'role':<6}  {'state':<8}  created")
        for row in rows:
            state = "disabled" if row.disabled else "enabled"
            typer.echo(f"{row.username:<{width}}  {row.role:<6}  {state:<8}  {row.created:%Y-%m-%d %H:%M}")


    @user_app.command("set-role", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_set_role(name: Annotated[str, typer.Argument(help="The user's name")],
                      role: Annotated[str, typer.Argument(help=ROLE_HELP)], **flags: str | None) -> None:
        """Give a user another role (every server applies it within a second)."""
        from brevettiai.server import users

        with _database(flags) as database:
            user = _checked(lambda: users.set_role(database, name, role))
        typer.echo(f"{user.username} is {user.role}")


    @user_app.command("reset-password", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_reset_password(name: Annotated[str, typer.Argument(help="The user's name")],
                            generate_password: Annotated[bool, GENERATE] = False,
                            password_stdin: Annotated[bool, FROM_STDIN] = False, **flags: str | None) -> None:
        """Set a user's password; its sessions end (its access tokens stay)."""
        from brevettiai.server import users

        with _database(flags) as database:
            found = _checked(lambda: users.find_user(database, name))
            password, generated = _new_password(generate_password, password_stdin, found.username)
            _checked(lambda: users.reset_password(database, name, password))
        typer.echo(f"password of {found.username} reset; its sessions have ended")
        if generated:
            _show_generated(found.username, password)


    @user_app.command("disable", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_disable(name: Annotated[str, typer.Argument(help="The user's name")], **flags: str | None) -> None:
        """Disable a user: its sessions and tokens stop working on every server within a second."""
        from brevettiai.server import users

        with _database(flags) as database:
            user = _checked(lambda: users.set_disabled(database, name, True))
        typer.echo(f"{user.username} is disabled")


    @user_app.command("enable", cls=FlagsCommand)
    @with_server_settings("data_dir", "database_url")
    def user_enable(name: Annotated[str, typer.Argument(help="The user's name")], **flags: str | None) -> None:
        """Enable a disabled user again (it logs in anew; its old sessions are gone)."""
        from brevettiai.server import users

        with _database(flags) as database:
            user = _checked(lambda: users.set_disabled(database, name, False))
        typer.echo(f"{user.username} is enabled")

    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


# Tokens: against a running server -----------------------------------------------------------------------------

Host = Annotated[str | None, typer.Option("--host", help="Platform URL. Env: BREVETTI_AI_HOST.")]
Username = Annotated[str | None, typer.Option("--username", help="Env: BREVETTI_AI_USER. The password: "
                                              "BREVETTI_AI_PW, else prompted.")]


@contextmanager
def _web(host: str | None, username: str | None, use_token: bool = True) -> Iterator[Any]:
    """A logged-in `PlatformAPI` (username and password; or `BREVETTI_AI_TOKEN` when `use_token`), errors as one line."""
    from brevettiai._env import env_value
    from brevettiai.errors import BrevettiError
    from brevettiai.platform.web_api import PlatformAPI

    username = username or env_value("username")
    token = env_value("token") if use_token and not username else None
    password = None
    if not token:
        if not username:
            raise _fail("give --username (or BREVETTI_AI_USER) to log in", 2)
        password = env_value("password") or getpass.getpass(f"Password for {username}: ")
    try:
        web = PlatformAPI(username=username, password=password, host=host, token=token, remember_me=False)
    except BrevettiError as exc:
        raise _fail(str(exc)) from None
    try:
        yield web
    except BrevettiError as exc:
        raise _fail(str(exc)) from None
    finally:
        web.close()


@token_app.command("create", cls=FlagsCommand)
def token_create(name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. ci")],
                 expires: Annotated[str, typer.Option("--expires", help="How long it lasts: 90d, 12h, 30m "
                                                      "(at most 366d)")] = "90d",
                 read_only: Annotated[bool, typer.Option("--read-only", help="Only reads, whatever your role")] = False,
                 host: Host = None, username: Username = None) -> None:
    """Create a personal access token (logging in with your username and password) and print it once."""
    with _web(host, username, use_token=False) as web:
        body = web.client.post("/api/tokens", json={"name": name, "expires": expires, "readOnly": read_only}).json()
    typer.echo(body["token"])
    typer.echo(f"(token {body['name']!r}{', read-only' if body['readOnly'] else ''}, expires {body['expiresAt']}; "
               f"shown only this once: use it as BREVETTI_AI_TOKEN)", err=True)


@token_app.command("list", cls=FlagsCommand)
def token_list(host: Host = None, username: Username = None) -> None:
    """List your personal access tokens (never the tokens themselves)."""
    with _web(host, username) as web:
        rows = web.client.get("/api/tokens").json()
    typer.echo(f"{'name':<20}  {'state':<8}  {'access':<10}  {'expires':<24}  last used")
    for row in rows:
        access = "read-only" if row["readOnly"] else "full"
        typer.echo(f"{row['name']:<20}  {row['state']:<8}  {access:<10}  {row['expiresAt'] or '':<24}  "
                   f"{row['lastUsed'] or 'never'}")


@token_app.command("revoke", cls=FlagsCommand)
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name (or id)")],
                 host: Host = None, username: Username = None) -> None:
    """Revoke one of your tokens: it stops working on every server within a second."""
    from urllib.parse import quote

    with _web(host, username) as web:
        web.client.delete(f"/api/tokens/{quote(name, safe='')}")
    typer.echo(f"token {name!r} revoked")
