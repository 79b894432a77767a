"""Text that arrives with a request is text the database can store.

Promise: refuse_nul(), run before every request, answers 400 when a query-string or form field
(name or value) holds a NUL character: no person types one, and no PostgreSQL text column can
hold one (it would fail deep inside a query as a 500). Uploaded files and raw bodies (CSV
uploads, the inbound-mail endpoint) are not looked at; their own readers judge them.
"""

from __future__ import annotations

from flask import abort, request

NUL = "\x00"


def refuse_nul() -> None:
    fields = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields.append(request.form)
    for multidict in fields:
        for name, value in multidict.items(multi=True):
            if NUL in name or NUL in value:
                abort(400, description="The request held a NUL character, which is not text.")
