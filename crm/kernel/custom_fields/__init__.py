"""Custom fields: one parse, one display, one storage, one filter and sort rule.

Three modules, one concern each; this package re-exports what other code calls, so callers
write `from crm.kernel import custom_fields` and `custom_fields.read(...)`:

- definitions.py — a team's fields (`fields_for`), the types and their operators, `parse()`
  (what a person types → the stored value, or Invalid on `cf_<key>`), `show()`,
  `raw_for_input()`, `operand()`.
- values.py — typed value rows: `read()`, `store()`, `write()` (validated, audited, on the
  timeline; the caller commits), `search_text()`, `matches()` for automation conditions,
  `plain()`/`revert()` for undoing a change (import revert).
- lists.py — the list filters, sorts and columns every list of contacts, companies and deals
  uses, keyset-paged through crm.kernel.paging, and the same order and cells for its export.
"""

from crm.kernel.custom_fields.definitions import (
    LONG_MAX,
    NUMBER_TYPES,
    OPERATORS,
    SEARCHED,
    SORTABLE,
    TEXT_MAX,
    TEXT_TYPES,
    fields_for,
    operand,
    option_of,
    parse,
    raw_for_input,
    show,
)
from crm.kernel.custom_fields.lists import (
    MAX_COLUMNS,
    Condition,
    Sort,
    column_keys,
    condition_args,
    conditions_from_args,
    custom_args,
    export_cell,
    export_order,
    filtered,
    is_sort,
    page,
    sort_choices,
    sort_for,
    sort_of,
    sorted_rows,
    where,
)
from crm.kernel.custom_fields.values import (
    Target,
    drop,
    matches,
    plain,
    read,
    revert,
    search_text,
    store,
    target_of,
    write,
)

__all__ = [
    "LONG_MAX",
    "MAX_COLUMNS",
    "NUMBER_TYPES",
    "OPERATORS",
    "SEARCHED",
    "SORTABLE",
    "TEXT_MAX",
    "TEXT_TYPES",
    "Condition",
    "Sort",
    "Target",
    "column_keys",
    "condition_args",
    "conditions_from_args",
    "custom_args",
    "drop",
    "export_cell",
    "export_order",
    "fields_for",
    "filtered",
    "is_sort",
    "matches",
    "operand",
    "option_of",
    "page",
    "parse",
    "plain",
    "raw_for_input",
    "read",
    "revert",
    "search_text",
    "show",
    "sort_choices",
    "sort_for",
    "sort_of",
    "sorted_rows",
    "store",
    "target_of",
    "where",
    "write",
]
