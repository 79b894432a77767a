from flask_wtf import FlaskForm
from wtforms import SearchField
from wtforms.validators import Length, Optional


class SearchForm(FlaskForm):
    """The full-page search box (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=200)])
