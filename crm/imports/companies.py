"""One row of a companies import (HubSpot companies, Pipedrive organizations, Salesforce and
Zoho accounts, any spreadsheet of companies): checked, matched, and created through the
companies service, inside the savepoint the runner holds for the row.

A company the team has already (the same id from the same product, else the same domain, else
the same name) is skipped unless the policy is "create anyway": companies are linked to, so
a second copy is rarely wanted. A created one is recorded as the runner's "company" change, so
reverting the import removes it (or trashes it once it has history) like a company a contacts
import created.
"""

from __future__ import annotations

from crm.companies import services as companies_service
from crm.errors import Invalid
from crm.extensions import db
from crm.imports import links
from crm.kernel import companies, normalize
from crm.kernel.fields import COMPANY_LIMITS, clean_text
from crm.models import Company, DuplicatePolicy, ImportChange, ImportJob

TEXT = ("name", "industry", "size", "street", "city", "region", "postal_code", "country")


def row_data(cells: list[str], mapping: dict[str, str]) -> dict[str, str]:
    data = {}
    for index, field in mapping.items():
        i = int(index)
        if i < len(cells) and cells[i].strip():
            data[field] = " ".join(cells[i].split())
    return data


def _clean(raw: dict[str, str], region: str) -> dict:
    """The row as create_company() takes it, or Invalid / BadValue naming the problem."""
    data = {}
    for key in TEXT:
        if key in raw:
            data[key] = clean_text(raw[key], COMPANY_LIMITS[key], key)
    if not data.get("name"):
        raise Invalid("A company needs a name.", field="name")
    if raw.get("domain"):
        data["domain"] = normalize.domain(raw["domain"])
    if raw.get("website"):
        data["website"] = normalize.website(raw["website"])
    if raw.get("phone"):
        data["phone"] = normalize.phone(raw["phone"], region)  # E.164: read once, here
    return data


def one_row(job: ImportJob, number: int, cells: list[str], memory) -> dict:
    raw = row_data(cells, job.mapping)
    owner = raw.pop("owner", None)
    external_id = raw.pop("external_id", None)
    try:
        data = _clean(raw, memory.region)
    except (normalize.BadValue, Invalid) as error:
        message = error.message if isinstance(error, Invalid) else str(error)
        return {"row": number, "action": "error", "error": message, "name": raw.get("name", "")}
    name, key = data["name"], data["name"].lower()
    source = links.external_source(job)
    match = None
    known = (
        links.external_record(Company, job.team_id, source, external_id) if external_id else None
    )
    if known is not None and known.deleted_at is None:
        match = known
    elif data.get("domain"):
        match = companies.find(job.team_id, domain=data["domain"])
    match = match or companies.find(job.team_id, name=name)
    outcome = {"row": number, "name": name, "match": match.name if match else None}
    if match is None and key in memory.companies:
        outcome["match"] = name  # an earlier row of this file
    if owner:
        owner_id = links.owner_id(job.team_id, owner, memory.owners)
        if owner_id is not None:
            data["owner_id"] = owner_id
        else:
            outcome["note"] = f"Owner “{owner}” is not a member of this team: the importer owns it."
    if outcome["match"] and job.policy != DuplicatePolicy.CREATE:
        return outcome | {"action": "skipped"}
    if job.dry_run:
        memory.companies.setdefault(key, None)
        return outcome | {"action": "created"}
    company = companies_service.create_company(job.team_id, job.user_id, data, commit=False)
    if external_id and known is None:
        company.external_source, company.external_id = source, external_id[:100]
    db.session.add(
        ImportChange(
            import_id=job.id, row_number=number, action="company", before={"company_id": company.id}
        )
    )
    db.session.flush()
    memory.companies[key] = company.id
    return outcome | {"action": "created"}
