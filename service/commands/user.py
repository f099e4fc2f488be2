"""`drainwatch user add|passwd|remove|list`: dashboard and API users.

A password is never an argument (it would land in shell history and in `ps`): it is prompted for
twice on a terminal, or read as the first line of stdin when piped
(`printf '%s\\n' "$PW" | drainwatch user add maya`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

_NAME_HELP = "user name: letters, digits, '.', '_', '@' or '-'"


class PasswordUnreadable(Exception):
    """No password could be read: the two typed differ, or stdin was empty."""


def register(subparsers: Any) -> None:
    """Add the `user` subcommand."""
    parser = subparsers.add_parser("user", help="manage dashboard and API users")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a user (password prompted, or from stdin)")
    add.add_argument("name", help=_NAME_HELP)
    add.add_argument(
        "--admin", action="store_true", help="may manage sources and users (default: not)"
    )
    add.set_defaults(run=run_add)
    passwd = actions.add_parser(
        "passwd", help="set a user's password (prompted, or from stdin); ends their logins"
    )
    passwd.add_argument("name", help=_NAME_HELP)
    passwd.set_defaults(run=run_passwd)
    remove = actions.add_parser("remove", help="remove a user (never the last admin)")
    remove.add_argument("name", help=_NAME_HELP)
    remove.set_defaults(run=run_remove)
    listing = actions.add_parser("list", help="the users and which are admins")
    listing.set_defaults(run=run_list)


def read_password(prompt: str = "Password") -> str:
    """Return a password typed twice on a terminal, or the first line of a piped stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"{prompt}: ")
        if getpass.getpass(f"{prompt} again: ") != first:
            raise PasswordUnreadable("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise PasswordUnreadable("no password on stdin")
    return line.rstrip("\r\n")


def run_add(args: argparse.Namespace) -> int:
    """Create the user with a password read from the terminal or stdin."""
    from service.accounts import AccountError, add_user, check_username
    from service.db import utcnow

    try:
        check_username(args.name)
        password = read_password()
        with _session() as session:
            add_user(session, args.name, password, admin=args.admin, now=utcnow())
    except (AccountError, PasswordUnreadable) as error:
        print(f"drainwatch: {error}", file=sys.stderr)
        return 2
    print(f"user {args.name!r} created{' (admin)' if args.admin else ''}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    """Set the user's password; their open logins end."""
    from service.accounts import AccountError, find_user, set_password

    try:
        with _session() as session:
            if find_user(session, args.name) is None:
                raise AccountError(f"no user is called {args.name!r}")
        password = read_password("New password")
        with _session() as session:
            set_password(session, args.name, password)
    except (AccountError, PasswordUnreadable) as error:
        print(f"drainwatch: {error}", file=sys.stderr)
        return 2
    print(f"password of {args.name!r} changed; their logins have ended")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Remove the user and end their logins."""
    from service.accounts import AccountError, remove_user

    try:
        with _session() as session:
            remove_user(session, args.name)
    except AccountError as error:
        print(f"drainwatch: {error}", file=sys.stderr)
        return 2
    print(f"user {args.name!r} removed")
    return 0


def run_list(_args: argparse.Namespace) -> int:
    """Print every user, admins marked."""
    from service.accounts import list_users

    with _session() as session:
        users = [(u.username, u.is_admin) for u in list_users(session)]
    for name, admin in users:
        print(f"{name}{'  (admin)' if admin else ''}")
    return 0


@contextmanager
def _session() -> Iterator[Session]:
    """Yield a unit of work on the configured database, migrated first; commit at the end."""
    from service.db import migrated_engine, session_scope
    from service.settings import Settings

    with migrated_engine(Settings().database_url) as engine, session_scope(engine) as session:
        yield session
