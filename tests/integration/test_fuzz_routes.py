"""Whatever a client sends in the query string or a form, no route answers 500.

Walks every GET and POST route of the URL map as the owner of a team (with that team's own
records in the URL, so the handlers really run) and lets hypothesis fill the parameters each
route reads — found in its module's source (`request.args.get("x")`, `request.form["x"]`, …) and
in the fields of the forms it uses — with text, unicode, empty strings, huge and odd integers.
A 5xx, or an exception the test client sees (TESTING propagates them), fails with the route,
the method and the smallest parameters hypothesis found. Bounded: a few examples per route.
"""

from __future__ import annotations

import inspect
import os
import re
import sys

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from wtforms.fields import FieldList, FormField
from wtforms.fields.core import UnboundField

from tests import factories
from tests.integration.test_isolation import OBJECT_MAKERS

EXAMPLES_PER_ROUTE = int(os.environ.get("FUZZ_EXAMPLES", "3"))  # more for a deeper local run
# Ends the session the walk needs; its own tests cover it.
SKIP = {"static", "auth.logout"}
# After these the walk logs in again: they may change the session's user or team.
RELOGIN_AFTER = {"core.new_team", "core.switch_team", "settings.password", "settings.remove_member"}
TOKEN_ARGS = {"token": "not-a-real-token"}

_PARAM = re.compile(
    r"""request\.(?:args|form|values|files)(?:\.get(?:list)?\(|\[)\s*["']([\w\-\[\]]+)["']"""
)
_FORM_CLASS = re.compile(r"\b([A-Z]\w*Form)\b")

ODD = [
    "",
    " ",
    "0",
    "-1",
    "9" * 30,
    "-" + "9" * 25,
    "1e309",
    "nan",
    "1.5",
    "²",
    "١٢",
    " 7 ",
    "1,2,3",
    "0x10",
    "\x00",
    "a" * 3000,
    "2026-02-30",
    "9999-12-31T25:61",
    "<script>alert(1)</script>",
    "//evil.example",
    "https://evil.example/",
    "../../etc/passwd",
    "é\u202egnp.exe",
    "null",
    "true",
    "owner:me " * 40,
]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
)


def _form_fields(form_class: type) -> set[str]:
    names: set[str] = set()
    for name in dir(form_class):
        field = getattr(form_class, name, None)
        if not isinstance(field, UnboundField):
            continue
        if field.field_class is FieldList and field.args:
            inner = field.args[0]
            if inner.field_class is FormField and inner.args:
                names |= {f"{name}-0-{sub}" for sub in _form_fields(inner.args[0])}
                names |= {f"{name}-1-{sub}" for sub in _form_fields(inner.args[0])}
            else:
                names |= {f"{name}-0", f"{name}-1"}
        else:
            names.add(name)
    return names


def _params_of(view) -> list[str]:
    """The parameter names a view's module reads, and the fields of the forms it uses."""
    module = sys.modules[view.__module__]
    source = inspect.getsource(module)
    names = set(_PARAM.findall(source))
    for class_name in set(_FORM_CLASS.findall(source)):
        form_class = getattr(module, class_name, None)
        if isinstance(form_class, type) and issubclass(form_class, FlaskForm):
            names |= _form_fields(form_class)
    names |= {"next", "page", "q"}  # read by shared helpers (redirects, paging, search)
    return sorted(names)


def _routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIP:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


def _describe(error: BaseException) -> str:
    errors = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    return "\n".join(
        f"  {type(e).__name__}: {str(e)[:300]} {' '.join(getattr(e, '__notes__', []))[:600]}"
        for e in errors
    )


def _fuzzer(client, auth, email: str, method: str, url: str, names: list[str]):
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the walk stays quick
        suppress_health_check=list(HealthCheck),
    )
    @given(
        params=st.fixed_dictionaries({}, optional={name: VALUES for name in names}),
        htmx=st.booleans(),
    )
    def one_route(params, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            response = client.get(url, query_string=params, headers=headers)
        else:
            response = client.post(url, data=params, query_string=params, headers=headers)
        assert response.status_code < 500, f"{method} {url} → {response.status_code}"

    return one_route


def test_no_route_answers_500_to_any_parameters(app, client, auth):
    owner = factories.make_user(name="Fuzz Owner", email="fuzz@example.com", team_name="Fuzz")
    team = factories.team_of(owner)
    ids: dict[str, object] = dict(TOKEN_ARGS)
    routes = list(_routes(app))
    for rule, _ in routes:
        for arg in rule.arguments:
            if arg not in ids and arg in OBJECT_MAKERS:
                ids[arg] = OBJECT_MAKERS[arg](team, owner)
    failures: list[str] = []
    walked, relogin = 0, True
    for rule, method in routes:
        if not set(rule.arguments) <= ids.keys():
            continue
        url = rule.build({arg: ids[arg] for arg in rule.arguments}, append_unknown=False)[1]
        one_route = _fuzzer(
            client, auth, owner.email, method, url, _params_of(app.view_functions[rule.endpoint])
        )
        if rule.endpoint.startswith("auth.") or walked == 0 or relogin:
            auth.login(owner.email)
        relogin = rule.endpoint in RELOGIN_AFTER or rule.endpoint.startswith("auth.")
        try:
            one_route()
        except Exception as error:  # noqa: BLE001 - collected, so every route is walked
            found = f"{method} {url} ({rule.endpoint}):\n{_describe(error)}"
            failures.append(found)
        walked += 1
    assert walked > 50
    assert not failures, "routes that answered 500:\n" + "\n\n".join(failures)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('request.args.get("contact")', ["contact"]),
        ("request.form.getlist('ids')", ["ids"]),
        ('request.args["q"]', ["q"]),
    ],
)
def test_the_walk_finds_parameters_in_source(source, expected):
    assert _PARAM.findall(source) == expected


def test_a_nul_character_in_a_query_or_form_is_a_400(logged_in):
    # PostgreSQL cannot store NUL in text: refused up front, on every database alike.
    assert logged_in.get("/contacts", query_string={"q": "a\x00b"}).status_code == 400
    response = logged_in.post("/contacts/new", data={"first_name": "Ann\x00", "owner_id": "0"})
    assert response.status_code == 400
    assert "could not be understood" in response.get_data(as_text=True)
    assert logged_in.get("/contacts", query_string={"q": "ann"}).status_code == 200
