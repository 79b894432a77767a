from flask_wtf import FlaskForm
from wtforms import BooleanField


class WeeklyEmailForm(FlaskForm):
    weekly = BooleanField(
        "Email me a pipeline summary on Mondays at 08:00 (my forecast, last week's wins and "
        "losses, deals that need attention)"
    )
