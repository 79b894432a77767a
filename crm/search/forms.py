from flask_wtf import FlaskForm
from wtforms import SearchField
from wtforms.validators import Length, Optional

from crm.search.query import MAX_QUERY_CHARS


class SearchForm(FlaskForm):
    """The full-page search box (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[
            Optional(),
            Length(
                max=MAX_QUERY_CHARS,
                message=f"A search can be at most {MAX_QUERY_CHARS} characters: shorten it.",
            ),
        ],
    )
