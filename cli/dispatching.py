"""``gaung dispatch POST_ID``: dispatch an approved post now, in this process, with progress.

The same streamed dispatch as the ``dispatch`` job (scheduler.dispatch): the post's parts
are created (or found, when an earlier run was interrupted: it resumes after the last
committed chunk), run one after another with a progress bar of assignments made, and the
post is marked dispatched with its messages when the last part is done.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlmodel import Session

from content.models import Post, PostStatus
from gaung.db import get_engine
from gaung.errors import GaungError
from scheduler import dispatch as dispatcher

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def dispatch(
    post_id: Annotated[int, typer.Argument(help="The approved post to dispatch.")],
) -> None:
    """Dispatch an approved post now, showing its progress (resumes an interrupted one)."""
    from wiring import wire

    wire()
    engine = get_engine()
    with Session(engine) as session:
        if session.get(Post, post_id) is None:
            err_console.print(f"[red]Error:[/red] POST_ID: no post with id {post_id}.")
            raise typer.Exit(2)
    try:
        parts = dispatcher.start(engine, post_id)
    except GaungError as exc:
        err_console.print(f"[red]Error:[/red] post {post_id}: {exc.message}")
        raise typer.Exit(1) from None
    with Session(engine) as session:
        progress = dispatcher.progress(session, post_id)
    done, total = (progress.done, progress.total) if progress else (0, 0)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"Post {post_id}: assignments", total=total, completed=done)
        for part_id in parts:
            dispatcher.run_part(engine, part_id, on_chunk=lambda n: bar.advance(task, n))
    created = dispatcher.finish(engine, post_id)
    with Session(engine) as session:
        status = session.get_one(Post, post_id).status
    if status != PostStatus.DISPATCHED:
        err_console.print(f"[red]Error:[/red] post {post_id} was not dispatched: it is {status}.")
        raise typer.Exit(1)
    if created:
        console.print(f"Post {post_id} dispatched: {created} assignments.")
    else:
        console.print(f"Post {post_id} was already dispatched; nothing to do.")
