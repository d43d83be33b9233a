"""``gaung token create | revoke``: API tokens for a staff member (roster.api_tokens).

The token is printed once, on standard output alone, so a script can capture it; it is
stored only as a hash and cannot be shown again.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import Session, select

from gaung.db import get_engine
from gaung.errors import GaungError
from gaung.fields import normalise_email
from roster import api_tokens
from roster.models import User

app = typer.Typer(help="API tokens for the JSON API.", no_args_is_help=True)
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]Error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(1)


def _staff(session: Session, email: str) -> User:
    try:
        address = normalise_email(email)
    except GaungError as exc:
        raise _fail(f"--staff: {exc.render(lambda m: m)}") from exc
    user = session.exec(select(User).where(User.email == address)).first()
    if user is None:
        raise _fail(f"--staff: no staff member with the e-mail address {address}.")
    return user


@app.command()
def create(
    staff: Annotated[str, typer.Option("--staff", help="The staff member's e-mail address.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    expires: Annotated[
        int | None, typer.Option("--expires", help="Days until it stops working (none: never).")
    ] = None,
) -> None:
    """Create a token acting as STAFF (their role and agency) and print it once."""
    with Session(get_engine(), expire_on_commit=False) as session:
        user = _staff(session, staff)
        try:
            issued = api_tokens.create_token(session, user, name=name, expires_days=expires)
        except GaungError as exc:
            option = {"expires_days": "--expires", "name": "--name", "staff": "--staff"}
            raise _fail(f"{option.get(exc.field or '', '')}: {exc.render(lambda m: m)}") from exc
    until = issued.token.expires_at
    err_console.print(
        f"Token {issued.token.id} ({issued.token.name}) for {user.email}, role {user.role}, "
        + (f"valid until {until:%Y-%m-%d %H:%M} UTC." if until else "without expiry.")
        + " It is shown only now:",
        highlight=False,
    )
    typer.echo(issued.secret)


@app.command()
def revoke(
    token_id: Annotated[int, typer.Argument(help="The token's number.")],
) -> None:
    """Revoke a token at once."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            api_tokens.revoke_token(session, None, token_id)
        except GaungError as exc:
            raise _fail(f"No token {token_id}.") from exc
    err_console.print(f"Token {token_id} revoked.", highlight=False)
