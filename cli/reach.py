"""``gaung reach check [--campaign ID] [--fix]``: the live roll-ups against a recount.

The roll-ups (assignments.rollup) are kept by database triggers in the same transaction as
each change; ``check`` recounts every figure from the assignment, click and evidence rows and
prints each (campaign, agency, unit, platform, figure) where the two differ, exiting 1 if any
does. ``--fix`` then rewrites the roll-ups from the recount, in one transaction.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from assignments import rollup
from content.models import Campaign
from gaung.db import get_engine

app = typer.Typer(help="Live reach roll-ups.", no_args_is_help=True)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@app.command()
def check(
    campaign: Annotated[
        int | None, typer.Option(help="Only this campaign's roll-ups (default: every campaign).")
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Rewrite the roll-ups from the recount (one transaction).")
    ] = False,
) -> None:
    """Recount reach from the raw rows and print where the live roll-ups differ."""
    with Session(get_engine()) as session:
        if campaign is not None and session.get(Campaign, campaign) is None:
            err_console.print(f"[red]Error:[/red] --campaign: no campaign with id {campaign}.")
            raise typer.Exit(2)
        found = rollup.differences(session, campaign)
        scope = "every campaign" if campaign is None else f"campaign {campaign}"
        if not found:
            console.print(f"Roll-ups match a recount from the raw rows ({scope}).")
            return
        table = Table(title=f"Roll-ups that differ from a recount ({scope})")
        for name in ("campaign", "agency", "unit", "platform", "figure"):
            table.add_column(name)
        for name in ("stored", "recounted", "difference"):
            table.add_column(name, justify="right")
        for d in found:
            table.add_row(
                str(d.campaign_id),
                str(d.agency_id),
                str(d.unit_id),
                d.platform,
                d.figure,
                str(d.stored),
                str(d.recounted),
                f"{d.stored - d.recounted:+d}",
            )
        Console(width=max(console.width, 120), highlight=False).print(table)
        if fix:
            rows = rollup.fix(session, campaign)
            session.commit()
            console.print(f"Fixed: {rows} roll-up row(s) rewritten from the recount ({scope}).")
            return
        console.print(f"{len(found)} difference(s); run with --fix to rewrite them.")
    raise typer.Exit(1)
