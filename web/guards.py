"""Input every route gets checked before it runs: control characters and impossible ids.

One dependency on the whole app (``create_app``), so a new page is covered without
remembering to be. A page asked for with a control character in its path, or with an id
beyond what the database can hold, does not exist: 404. A control character in a query
parameter or a form field is bad input: 400 naming the field. Without this, PostgreSQL
refuses a NUL in text and SQLite an integer over 64 bits, and the reader got a 500.

The JSON API validates its own parameters (ids in range, free text without control
characters) and answers 422 in FastAPI's documented shape, so it is left to that.
"""

from __future__ import annotations

import re

from starlette.datastructures import UploadFile
from starlette.requests import Request

from gaung.errors import N_, GaungError, NotFoundError

# The largest id any table holds: an INTEGER column on PostgreSQL.
MAX_ID = 2**31 - 1
# C0 controls and DEL. Form fields may hold tab and line breaks (a textarea); paths and
# query strings never need them.
_IN_PATH_OR_QUERY = re.compile(r"[\x00-\x1f\x7f]")
_IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[+-]?[0-9]+")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _not_found() -> NotFoundError:
    return NotFoundError(N_("We could not find what you were looking for."))


def _control_character(field: str) -> GaungError:
    return GaungError(N_("“%(name)s” contains a control character."), field=field, name=field)


def _check_path(request: Request) -> None:
    for name, value in request.path_params.items():
        text = str(value)
        if _IN_PATH_OR_QUERY.search(text):
            raise _not_found()
        if name.endswith("id") and _DIGITS.fullmatch(text) and abs(int(text)) > MAX_ID:
            raise _not_found()


def _check_query(request: Request) -> None:
    for name, value in request.query_params.multi_items():
        if _IN_PATH_OR_QUERY.search(name) or _IN_PATH_OR_QUERY.search(value):
            raise _control_character(_printable(name))


async def _check_form(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(_FORMS):
        return
    form = await request.form()  # parsed once: the route reads the same form
    for name, value in form.multi_items():
        text = (value.filename or "") if isinstance(value, UploadFile) else value
        if _IN_FORM.search(name) or _IN_FORM.search(text):
            raise _control_character(_printable(name))


def _printable(name: str) -> str:
    return _IN_PATH_OR_QUERY.sub("?", name)[:60]


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


async def guard_input(request: Request) -> None:
    """Refuse control characters and out-of-range ids on every page and form."""
    if is_api_path(request.url.path):
        return
    _check_path(request)
    _check_query(request)
    await _check_form(request)
