"""One module per resource; importing them registers their routes on the API blueprint."""

from crm.api.resources import (  # noqa: F401
    activities,
    companies,
    contacts,
    deals,
    reference,
    tasks,
)
