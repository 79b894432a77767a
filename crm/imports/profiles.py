"""The exports Rapport recognises: each product's contact (and company) column names, as the
product writes them, and the field each one fills (None: a column we know that has no place in
Rapport).

detect() names the product a header row comes from and maps its columns; columns the table
does not know fall back to the header-word guess of `columns`. Data only, plus the matcher:
adding a product is adding a table here (and a fixture under tests/fixtures/imports/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm.imports import columns

# --- The tables -------------------------------------------------------------------------------

HUBSPOT = {
    "Record ID": "external_id",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Phone Number": "phone",
    "Mobile Phone Number": "phone2",
    "Company Name": "company",
    "Job Title": "title",
    "Contact owner": "owner",
    "Lifecycle Stage": "lifecycle",
    "Lead Status": None,
    "Street Address": "street",
    "City": "city",
    "State/Region": "region",
    "Postal Code": "postal_code",
    "Country/Region": "country",
    "Website URL": "website",
    "Original Source": "source",
    "LinkedIn URL": "linkedin",
    "Associated Company": None,  # the same company as "Company Name", by its HubSpot record
    "Associated Company IDs": "company_external_id",
    "Create Date": None,
    "Last Activity Date": None,
    "Last Modified Date": None,
    "Marketing contact status": None,
    "Fax Number": None,
    "Industry": None,
}

_PIPEDRIVE_PERSON = {
    "ID": "external_id",
    "Name": "full_name",
    "First name": "first_name",
    "Last name": "last_name",
    "Email": "email",
    "Email - Work": "email",
    "Email - Home": "email_home",
    "Email - Other": "email2",
    "Phone": "phone",
    "Phone - Work": "phone",
    "Phone - Mobile": "phone2",
    "Phone - Home": "phone_home",
    "Phone - Other": "phone_other",
    "Organization": "company",
    "Owner": "owner",
    "Label": "tags",
    "Labels": "tags",
    "Job title": "title",
    "Postal address": "street",
    "Postal address - City/town/village/locality": "city",
    "Postal address - State/county": "region",
    "Postal address - ZIP/Postal code": "postal_code",
    "Postal address - Country": "country",
    "Notes": "notes",
    "Visible to": None,
    "Open deals": None,
    "Closed deals": None,
    "Won deals": None,
    "Lost deals": None,
    "Activities to do": None,
    "Done activities": None,
    "Email messages count": None,
    "Next activity date": None,
    "Last activity date": None,
    "Update time": None,
    "Person created": None,
    "Last email received": None,
    "Last email sent": None,
    "Profile picture": None,
    "Marketing status": None,
}
# Pipedrive writes every column of a person export as "Person - <field>".
PIPEDRIVE = {f"Person - {name}": target for name, target in _PIPEDRIVE_PERSON.items()} | {
    "Organization - Name": "company"
}

SALESFORCE = {
    "Contact ID": "external_id",
    "Salutation": None,
    "First Name": "first_name",
    "Last Name": "last_name",
    "Title": "title",
    "Account Name": "company",
    "Account ID": "company_external_id",
    "Email": "email",
    "Phone": "phone",
    "Mobile": "phone2",
    "Home Phone": "phone_home",
    "Other Phone": "phone_other",
    "Fax": None,
    "Mailing Street": "street",
    "Mailing City": "city",
    "Mailing State/Province": "region",
    "Mailing Zip/Postal Code": "postal_code",
    "Mailing Country": "country",
    "Contact Owner": "owner",
    "Lead Source": "source",
    "Description": "notes",
    "Department": None,
    "Birthdate": None,
    "Created Date": None,
    "Last Modified Date": None,
    "Last Activity": None,
}

ZOHO = {
    "Record Id": "external_id",
    "Contact Owner": "owner",
    "Contact Owner.id": None,
    "Lead Source": "source",
    "Salutation": None,
    "First Name": "first_name",
    "Last Name": "last_name",
    "Full Name": "full_name",
    "Account Name": "company",
    "Account Name.id": "company_external_id",
    "Vendor Name": None,
    "Email": "email",
    "Secondary Email": "email2",
    "Title": "title",
    "Department": None,
    "Phone": "phone",
    "Home Phone": "phone_home",
    "Other Phone": "phone_other",
    "Mobile": "phone2",
    "Fax": None,
    "Assistant": None,
    "Asst Phone": None,
    "Date of Birth": None,
    "Email Opt Out": None,
    "Skype ID": None,
    "Twitter": None,
    "Reporting To": None,
    "Mailing Street": "street",
    "Mailing City": "city",
    "Mailing State": "region",
    "Mailing Zip": "postal_code",
    "Mailing Country": "country",
    "Other Street": None,
    "Other City": None,
    "Other State": None,
    "Other Zip": None,
    "Other Country": None,
    "Description": "notes",
    "Tag": "tags",
    "Created By": None,
    "Modified By": None,
    "Created Time": None,
    "Modified Time": None,
    "Last Activity Time": None,
}

CAPSULE = {
    "ID": "external_id",
    "Type": None,
    "Title": None,  # Mr, Ms, Dr: Capsule's "Title" is the salutation; the job is "Job Title"
    "First Name": "first_name",
    "Last Name": "last_name",
    "Name": "full_name",
    "Job Title": "title",
    "Organisation": "company",
    "Organization": "company",
    "Email Address": "email",
    "Work Email": "email",
    "Home Email": "email_home",
    "Other Email": "email2",
    "Phone Number": "phone",
    "Work Phone": "phone",
    "Mobile Phone": "phone2",
    "Home Phone": "phone_home",
    "Address Street": "street",
    "Address City": "city",
    "Address State": "region",
    "Address Postcode": "postal_code",
    "Address Country": "country",
    "Work Street": "street",
    "Work City": "city",
    "Work State": "region",
    "Work Postcode": "postal_code",
    "Work Country": "country",
    "Website": "website",
    "Work Website": "website",
    "LinkedIn": "linkedin",
    "Tags": "tags",
    "Owner": "owner",
    "About": "notes",
    "Team": None,
    "Created": None,
    "Updated": None,
    "Last Contacted": None,
}

# Google Contacts CSV, both the older ("Given Name", "E-mail 1 - Type") and the current
# ("First Name", "E-mail 1 - Label") forms; the numbered columns are in GOOGLE_NUMBERED.
GOOGLE = {
    "Name": "full_name",
    "Given Name": "first_name",
    "Additional Name": None,
    "Family Name": "last_name",
    "First Name": "first_name",
    "Middle Name": None,
    "Last Name": "last_name",
    "Yomi Name": None,
    "Given Name Yomi": None,
    "Additional Name Yomi": None,
    "Family Name Yomi": None,
    "Phonetic First Name": None,
    "Phonetic Middle Name": None,
    "Phonetic Last Name": None,
    "Name Prefix": None,
    "Name Suffix": None,
    "Initials": None,
    "Nickname": None,
    "Short Name": None,
    "Maiden Name": None,
    "File As": None,
    "Birthday": None,
    "Gender": None,
    "Location": None,
    "Billing Information": None,
    "Directory Server": None,
    "Mileage": None,
    "Occupation": None,
    "Hobby": None,
    "Sensitivity": None,
    "Priority": None,
    "Subject": None,
    "Notes": "notes",
    "Language": None,
    "Photo": None,
    "Group Membership": "tags",
    "Labels": "tags",
    "Organization Name": "company",
    "Organization Title": "title",
    "Organization Department": None,
}
# "<Kind> <n> - <part>": the part's field for the first of each kind (None: known, no place).
# Every email and phone is kept, each with its own Type/Label column as its label.
GOOGLE_NUMBERED = {
    ("email", "value"): "email",
    ("phone", "value"): "phone",
    ("organization", "name"): "company",
    ("organization", "title"): "title",
    ("address", "street"): "street",
    ("address", "city"): "city",
    ("address", "region"): "region",
    ("address", "postal code"): "postal_code",
    ("address", "country"): "country",
    ("website", "value"): "website",
}
_NUMBERED = re.compile(
    r"^(email|phone|address|organization|website|relation|im|event|custom field|external id"
    r"|calendar link|jot) (\d+) (.+)$"
)

OUTLOOK = {
    "Title": None,  # Mr, Ms: the salutation
    "First Name": "first_name",
    "Middle Name": None,
    "Last Name": "last_name",
    "Suffix": None,
    "Nickname": None,
    "Given Yomi": None,
    "Surname Yomi": None,
    "Company": "company",
    "Company Yomi": None,
    "Department": None,
    "Job Title": "title",
    "E-mail Address": "email",
    "E-mail Type": None,
    "E-mail Display Name": None,
    "E-mail 2 Address": "email2",
    "E-mail 2 Type": None,
    "E-mail 2 Display Name": None,
    "E-mail 3 Address": "email2",
    "E-mail 3 Type": None,
    "E-mail 3 Display Name": None,
    "Business Street": "street",
    "Business Street 2": None,
    "Business Street 3": None,
    "Business City": "city",
    "Business State": "region",
    "Business Postal Code": "postal_code",
    "Business Country/Region": "country",
    "Business Country": "country",
    "Home Address": None,
    "Business Address": None,
    "Other Address": None,
    "Home Country": None,
    "Other Country": None,
    "Home Street": None,
    "Home Street 2": None,
    "Home Street 3": None,
    "Home City": None,
    "Home State": None,
    "Home Postal Code": None,
    "Home Country/Region": None,
    "Other Street": None,
    "Other Street 2": None,
    "Other Street 3": None,
    "Other City": None,
    "Other State": None,
    "Other Postal Code": None,
    "Other Country/Region": None,
    "Assistant's Phone": None,
    "Business Fax": None,
    "Business Phone": "phone",
    "Business Phone 2": "phone",
    "Callback": None,
    "Car Phone": None,
    "Company Main Phone": None,
    "Home Fax": None,
    "Home Phone": "phone_home",
    "Home Phone 2": "phone_home",
    "ISDN": None,
    "Mobile Phone": "phone2",
    "Other Fax": None,
    "Other Phone": "phone_other",
    "Pager": None,
    "Primary Phone": None,
    "Radio Phone": None,
    "TTY/TDD Phone": None,
    "Telex": None,
    "Account": None,
    "Anniversary": None,
    "Assistant's Name": None,
    "Billing Information": None,
    "Birthday": None,
    "Business Address PO Box": None,
    "Categories": "tags",
    "Children": None,
    "Directory Server": None,
    "Gender": None,
    "Government ID Number": None,
    "Hobby": None,
    "Home Address PO Box": None,
    "Initials": None,
    "Internet Free Busy": None,
    "Keywords": None,
    "Language": None,
    "Location": None,
    "Manager's Name": None,
    "Mileage": None,
    "Notes": "notes",
    "Office Location": None,
    "Organizational ID Number": None,
    "Other Address PO Box": None,
    "Priority": None,
    "Private": None,
    "Profession": None,
    "Referred By": None,
    "Sensitivity": None,
    "Spouse": None,
    "User 1": None,
    "User 2": None,
    "User 3": None,
    "User 4": None,
    "Web Page": "website",
    "Personal Web Page": None,
}

# The columns crm.imports.vcards writes for an address book (one row per card).
VCARD_SLOTS = 5  # emails and phones kept per card (more are rare; the rest are left out)
VCARD = {
    "Full name": "full_name",
    "First name": "first_name",
    "Last name": "last_name",
    "Organization": "company",
    "Job title": "title",
    "Street": "street",
    "City": "city",
    "Region": "region",
    "Postal code": "postal_code",
    "Country": "country",
    "Website": "website",
    "Categories": "tags",
    "Note": "notes",
    "Birthday": None,  # a date custom field named "Birthday" takes it (see the mapping page)
}
for _n in range(1, VCARD_SLOTS + 1):
    VCARD |= {f"Email {_n}": "email", f"Email {_n} type": f"type_of:Email {_n}"}
    VCARD |= {f"Phone {_n}": "phone", f"Phone {_n} type": f"type_of:Phone {_n}"}

# Companies: HubSpot's companies, Pipedrive's organizations, Salesforce's and Zoho's accounts.
HUBSPOT_COMPANIES = {
    "Record ID": "external_id",
    "Company name": "name",
    "Company Domain Name": "domain",
    "Company owner": "owner",
    "Phone Number": "phone",
    "Industry": "industry",
    "Number of Employees": "size",
    "Street Address": "street",
    "City": "city",
    "State/Region": "region",
    "Postal Code": "postal_code",
    "Country/Region": "country",
    "Website URL": "website",
    "Create Date": None,
    "Last Activity Date": None,
    "Lifecycle Stage": None,
    "Annual Revenue": None,
    "Type": None,
}
_PIPEDRIVE_ORGANIZATION = {
    "ID": "external_id",
    "Name": "name",
    "Owner": "owner",
    "Address": "street",
    "Address - City/town/village/locality": "city",
    "Address - State/county": "region",
    "Address - ZIP/Postal code": "postal_code",
    "Address - Country": "country",
    "Website": "website",
    "Industry": "industry",
    "Number of employees": "size",
    "Label": None,
    "People": None,
    "Open deals": None,
    "Closed deals": None,
    "Won deals": None,
    "Lost deals": None,
    "Visible to": None,
    "Update time": None,
    "Organization created": None,
}
PIPEDRIVE_ORGANIZATIONS = {
    f"Organization - {name}": target for name, target in _PIPEDRIVE_ORGANIZATION.items()
}
SALESFORCE_ACCOUNTS = {
    "Account ID": "external_id",
    "Account Name": "name",
    "Account Owner": "owner",
    "Type": None,
    "Industry": "industry",
    "Employees": "size",
    "Phone": "phone",
    "Website": "website",
    "Billing Street": "street",
    "Billing City": "city",
    "Billing State/Province": "region",
    "Billing Zip/Postal Code": "postal_code",
    "Billing Country": "country",
    "Annual Revenue": None,
    "Description": None,
    "Created Date": None,
    "Last Activity": None,
}
ZOHO_ACCOUNTS = {
    "Record Id": "external_id",
    "Account Owner": "owner",
    "Account Owner.id": None,
    "Account Name": "name",
    "Phone": "phone",
    "Website": "website",
    "Industry": "industry",
    "Employees": "size",
    "Account Type": None,
    "Billing Street": "street",
    "Billing City": "city",
    "Billing State": "region",
    "Billing Code": "postal_code",
    "Billing Country": "country",
    "Description": None,
    "Created Time": None,
    "Modified Time": None,
}

COMPANY_PRODUCTS: dict[str, dict[str, str | None]] = {
    "HubSpot": HUBSPOT_COMPANIES,
    "Pipedrive": PIPEDRIVE_ORGANIZATIONS,
    "Salesforce": SALESFORCE_ACCOUNTS,
    "Zoho CRM": ZOHO_ACCOUNTS,
}

# Notes: Pipedrive's notes export, HubSpot's notes (activities) export.
PIPEDRIVE_NOTES = {
    f"Note - {name}": target
    for name, target in {
        "ID": None,
        "Content": "body",
        "Add time": "occurred_at",
        "Update time": None,
        "User": "author",
        "Person": "contact_name",
        "Person ID": "contact_external_id",
        "Organization": "company",
        "Organization ID": "company_external_id",
        "Deal": None,
        "Deal ID": None,
        "Lead": None,
        "Pinned to deal": None,
        "Pinned to person": None,
        "Pinned to organization": None,
    }.items()
}
HUBSPOT_NOTES = {
    "Record ID": None,
    "Note body": "body",
    "Activity date": "occurred_at",
    "Activity assigned to": "author",
    "Created by": "author",
    "Associated Contact IDs": "contact_external_id",
    "Associated Contact": "contact_name",
    "Associated Company IDs": "company_external_id",
    "Associated Company": "company",
    "Associated Deal IDs": None,
    "Create Date": None,
    "Last Modified Date": None,
}
NOTE_PRODUCTS: dict[str, dict[str, str | None]] = {
    "Pipedrive": PIPEDRIVE_NOTES,
    "HubSpot": HUBSPOT_NOTES,
}

PRODUCTS: dict[str, dict[str, str | None]] = {
    "vCard": VCARD,
    "HubSpot": HUBSPOT,
    "Pipedrive": PIPEDRIVE,
    "Salesforce": SALESFORCE,
    "Zoho CRM": ZOHO,
    "Capsule": CAPSULE,
    "Google Contacts": GOOGLE,
    "Outlook": OUTLOOK,
}
MIN_KNOWN = 3  # columns a product must recognise …
MIN_SHARE = 0.6  # … and the share of the file's named columns, to be named as its source


# --- The matcher ------------------------------------------------------------------------------

key = columns.header_key
_TABLES = {
    kind: {
        product: {key(name): target for name, target in table.items()}
        for product, table in products.items()
    }
    for kind, products in (
        ("contacts", PRODUCTS),
        ("companies", COMPANY_PRODUCTS),
        ("notes", NOTE_PRODUCTS),
    )
}
_MISSING = object()


@dataclass
class Detection:
    product: str | None  # "HubSpot", or None when no product's columns fit
    mapping: dict[str, str] = field(default_factory=dict)  # {column index: field}


def _lookup(tables: dict, product: str, header_key: str, keys: list[str]):
    """The target of one column in a product's table, or _MISSING when it does not know it.
    A "type_of:<header>" target becomes "type_of:<index of that column>"."""
    target = tables[product].get(header_key, _MISSING)
    if target is _MISSING and product == "Google Contacts":
        target = _google_numbered(header_key, keys)
    if isinstance(target, str) and target.startswith("type_of:"):
        value_key = key(target.removeprefix("type_of:"))
        target = f"type_of:{keys.index(value_key)}" if value_key in keys else None
    return target


def _google_numbered(header_key: str, keys: list[str]):
    match = _NUMBERED.match(header_key)
    if not match:
        return _MISSING
    kind, number, part = match.groups()
    if kind in ("email", "phone") and part in ("type", "label"):
        value_key = f"{kind} {number} value"
        return f"type_of:{value_key}" if value_key in keys else None
    target = GOOGLE_NUMBERED.get((kind, part))
    if target is None or (number != "1" and target not in columns.MULTI):
        return None
    return target


def detect(header: list[str], kind: str = "contacts") -> Detection:
    """The product whose export this header row is, and the mapping of its columns.

    A product is named when it knows at least MIN_KNOWN columns and MIN_SHARE of the named
    ones; the one that knows most wins. Its known columns take their field (each single field
    once; emails and phones as often as they come); the others, and every column when no
    product fits, are guessed from their words by `columns.guess_mapping`.
    """
    tables = _TABLES[kind]
    keys = [key(name) for name in header]
    named = [k for k in keys if k]
    best, best_known = None, 0
    for product in tables:
        known = sum(1 for k in named if _lookup(tables, product, k, keys) is not _MISSING)
        if known > best_known and known >= MIN_KNOWN and known >= MIN_SHARE * len(named):
            best, best_known = product, known
    if best is None:
        return Detection(None, columns.guess_mapping(header, kind))
    mapping: dict[str, str] = {}
    used: set[str] = set()
    unknown: list[int] = []
    for index, header_key in enumerate(keys):
        target = _lookup(tables, best, header_key, keys) if header_key else _MISSING
        if target is _MISSING:
            unknown.append(index)
        elif target and (target not in used or target in columns.MULTI):
            mapping[str(index)] = target
            used.add(target)
    guessed = columns.guess_mapping(
        [header[i] if i in unknown else "" for i in range(len(keys))], kind
    )
    for index, target in guessed.items():
        if target not in used:
            mapping[index] = target
            used.add(target)
    return Detection(best, dict(sorted(mapping.items(), key=lambda item: int(item[0]))))
