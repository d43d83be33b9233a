"""``gaung sso``: an agency's OpenID Connect single sign-on, for operators.

The same service functions as the admin page ``/console/sso`` (roster.oidc), audited as
done by "system". The client secret is never an option: it is read from the environment
variable ``sso show`` names.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import Session, select

from gaung.db import get_engine
from gaung.errors import GaungError
from roster import oidc
from roster.models import Agency

app = typer.Typer(help="Single sign-on (OpenID Connect) per agency.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

AgencyOption = Annotated[str, typer.Option("--agency", help="Slug of the agency.")]


def _agency(session: Session, slug: str) -> Agency:
    agency = session.exec(select(Agency).where(Agency.slug == slug)).first()
    if agency is None:
        err_console.print(f"[red]Error:[/red] No agency with slug {slug!r}.")
        raise typer.Exit(1)
    return agency


@app.command("set")
def set_command(
    agency: AgencyOption,
    issuer: Annotated[str, typer.Option(help="Issuer URL; Keycloak: https://HOST/realms/REALM.")],
    client_id: Annotated[str, typer.Option("--client-id", help="Client id at the provider.")],
    allow_self_registration: Annotated[
        bool,
        typer.Option(
            "--allow-self-registration",
            help="A verified e-mail without an account joins as a supervisor.",
        ),
    ] = False,
    domain: Annotated[
        list[str] | None,
        typer.Option(help="Limit self-registration to this e-mail domain (repeatable)."),
    ] = None,
) -> None:
    """Offer "Masuk dengan SSO" for an agency (replaces its earlier settings)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        found = _agency(session, agency)
        try:
            config = oidc.configure(
                session,
                None,
                found,
                issuer=issuer,
                client_id=client_id,
                allow_self_registration=allow_self_registration,
                domains=" ".join(domain or []),
            )
        except GaungError as exc:
            err_console.print(f"[red]Error:[/red] {exc.render(lambda m: m)}")
            raise typer.Exit(1) from exc
        _show(found, config)


@app.command("show")
def show_command(agency: AgencyOption) -> None:
    """Print an agency's single sign-on settings and where its secret comes from."""
    with Session(get_engine()) as session:
        found = _agency(session, agency)
        config = oidc.get(session, found.id or 0)
        if config is None:
            console.print(f"{found.slug}: single sign-on is off.")
            return
        _show(found, config)


@app.command("remove")
def remove_command(agency: AgencyOption) -> None:
    """Turn an agency's single sign-on off (staff sign in with their password)."""
    with Session(get_engine()) as session:
        found = _agency(session, agency)
        removed = oidc.remove(session, None, found)
    console.print(f"{agency}: single sign-on {'turned off' if removed else 'was already off'}.")


def _show(agency: Agency, config: oidc.AgencySso) -> None:
    secret = oidc.secret_env_name(agency.slug)
    state = "set" if oidc.client_secret(agency.slug) else "NOT set (public client, PKCE only)"
    console.print(f"agency:            {agency.slug}", markup=False)
    console.print(f"issuer:            {config.issuer}", markup=False)
    console.print(f"client id:         {config.client_id}", markup=False)
    registration = "on (as supervisor)" if config.allow_self_registration else "off"
    console.print(f"self-registration: {registration}", markup=False)
    if config.self_registration_domains:
        console.print(f"  for domains:     {config.self_registration_domains}", markup=False)
    console.print(f"client secret:     {secret} is {state}", markup=False)
