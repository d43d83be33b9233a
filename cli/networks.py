"""``gaung network create | add | remove | list``: agency networks, for the instance operator.

A network lets its coordinator offer campaigns to its members' approvers (content.offers);
the command line is the operator's, so no sign-in is asked. Each change is audited under
every agency it touches (roster.networks). The console has the same at /console/networks.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.admin import run_or_exit
from gaung.db import session_scope
from roster import networks

app = typer.Typer(help="Agency networks (a coordinator and its members).", no_args_is_help=True)
console = Console(highlight=False)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The network's name, e.g. Bakohumas.")],
    coordinator: Annotated[
        str, typer.Option("--coordinator", help="Short name of the coordinating agency.")
    ],
) -> None:
    """Create a network led by one agency (one network per coordinator)."""

    def body() -> None:
        with session_scope() as session:
            agency = networks.agency_by_slug(session, coordinator, "coordinator")
            network = networks.create(session, None, name, agency)
            console.print(f"Created network [bold]{network.name}[/bold], led by {agency.slug}.")

    run_or_exit(body)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The network's name.")],
    agencies: Annotated[list[str], typer.Argument(help="Short names of the agencies to add.")],
) -> None:
    """Add member agencies (those already in it are left as they are)."""

    def body() -> None:
        with session_scope() as session:
            network = networks.by_name(session, name)
            found = [networks.agency_by_slug(session, slug) for slug in agencies]
            added = networks.add_members(session, None, network, found)
            names = ", ".join(a.slug for a in added) or "nobody new"
            console.print(f"{network.name}: added {names}.")

    run_or_exit(body)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The network's name.")],
    agency: Annotated[str, typer.Argument(help="Short name of the agency to take out.")],
) -> None:
    """Take an agency out; campaigns it accepted keep going to its people."""

    def body() -> None:
        with session_scope() as session:
            network = networks.by_name(session, name)
            networks.remove_member(session, None, network, networks.agency_by_slug(session, agency))
            console.print(f"{network.name}: removed {agency}.")

    run_or_exit(body)


@app.command("list")
def list_networks() -> None:
    """Every network with its coordinator and members."""
    with session_scope() as session:
        views = networks.views(session)
        if not views:
            console.print("No networks yet: gaung network create NAME --coordinator SLUG")
            return
        table = Table("Network", "Coordinator", "Members")
        for view in views:
            members = ", ".join(a.slug for a in view.members) or "-"
            table.add_row(view.network.name, view.coordinator.slug, members)
        console.print(table)
