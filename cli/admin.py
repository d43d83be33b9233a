"""``gaung agency add`` and ``gaung staff add | reset-password``: agencies and staff from the
command line, through the same services as the console (roster.agencies, roster.staff).

Never prompts: a password comes from stdin (``--password-stdin``) or not at all, in which
case the command prints a one-time link for the person to choose theirs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlmodel import Session, select

from gaung.db import session_scope
from gaung.errors import GaungError
from roster import agencies, staff
from roster.models import Agency

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)

agency_app = typer.Typer(help="Agencies (tenants).", no_args_is_help=True)
staff_app = typer.Typer(
    help="Staff accounts: admins, editors, approvers, supervisors.", no_args_is_help=True
)


def run_or_exit(action: Callable[[], T]) -> T:
    """Expected failures: a message naming the field and exit status 1, no traceback."""
    try:
        return action()
    except GaungError as exc:
        where = f" ({exc.field})" if exc.field else ""
        err_console.print(f"[red]Error{where}:[/red] {exc.render(lambda m: m)}")
        raise typer.Exit(1) from exc


def _agency(session: Session, slug: str) -> Agency:
    agency = session.exec(select(Agency).where(Agency.slug == slug.strip())).first()
    if agency is None:
        raise GaungError("There is no agency %(slug)s.", field="agency", slug=slug)
    return agency


@agency_app.command("add")
def agency_add(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. kominfo (lower case, digits, -).")],
    name: Annotated[str, typer.Option("--name", help="Full name of the agency.")],
) -> None:
    """Create an agency; then add its first admin with `gaung staff add`."""

    def body() -> None:
        with session_scope() as session:
            agency = agencies.create_agency(session, slug, name)
            console.print(f"Created agency [bold]{agency.slug}[/bold] ({agency.name}).")

    run_or_exit(body)


@staff_app.command("add")
def staff_add(
    email: Annotated[str, typer.Argument(help="The person's e-mail address (their sign-in).")],
    agency: Annotated[str, typer.Option("--agency", help="The agency's short name.")],
    role: Annotated[str, typer.Option("--role", help="admin, editor, approver or supervisor.")],
    name: Annotated[str, typer.Option("--name", help="Full name (default: from the e-mail).")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a staff member; without --password-stdin, print a one-time invitation link."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    def body() -> None:
        with session_scope() as session:
            user = staff.add_staff(
                session,
                _agency(session, agency),
                email=email,
                role=role,
                name=name,
                password=password,
            )
            url = (
                None
                if password
                else staff.link_url(staff.issue_link(session, user, staff.INVITE, None)[1])
            )
        console.print(f"Added {user.role} [bold]{user.email}[/bold] to {agency}.")
        if url:
            days = staff.LIFETIMES[staff.INVITE].days
            console.print(f"One-time link to choose a password (valid {days} days, shown once):")
            console.print(url, soft_wrap=True, highlight=False)

    run_or_exit(body)


@staff_app.command("reset-password")
def staff_reset_password(
    email: Annotated[str, typer.Argument(help="The staff member's e-mail address.")],
) -> None:
    """Print a one-time link to set a new password (it also lifts a sign-in lockout)."""

    def body() -> None:
        with session_scope() as session:
            user = staff.by_email(session, email)
            if user is None:
                raise GaungError("There is no staff member %(email)s.", field="email", email=email)
            if not user.active:
                raise GaungError("%(email)s is deactivated.", field="email", email=user.email)
            url = staff.link_url(staff.issue_link(session, user, staff.RESET, None)[1])
        hours = int(staff.LIFETIMES[staff.RESET].total_seconds() // 3600)
        console.print(f"One-time link for {user.email} (valid {hours} hours, shown once):")
        console.print(url, soft_wrap=True, highlight=False)

    run_or_exit(body)
