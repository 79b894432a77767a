from decimal import Decimal

import pytest

from crm.deals.money import format_money, input_value, parse_money, to_decimal
from crm.errors import Invalid


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12,500.50", "USD", 1_250_050),
        ("12500.5", "EUR", 1_250_050),
        ("0.01", "USD", 1),
        ("1,000", "JPY", 1000),
        ("", "USD", 0),
        (" 7 ", "GBP", 700),
        ("1.234", "BHD", 1234),
    ],
)
def test_parse_money_is_exact(text, currency, minor):
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.505", "USD"),
        ("1.5", "JPY"),
        ("abc", "USD"),
        ("-5", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("1e30", "USD"),
    ],
)
def test_parse_money_refuses(text, currency):
    with pytest.raises(Invalid):
        parse_money(text, currency)


def test_no_float_rounding():
    # 0.1 + 0.2 style errors would show here with floats.
    assert parse_money("1234567.89", "USD") == 123456789
    assert to_decimal(123456789, "USD") == Decimal("1234567.89")


def test_format_and_input_value():
    assert format_money(1_250_050, "USD") == "$12,500.50"
    assert format_money(1_250_050, "CHF") == "12,500.50 CHF"
    assert format_money(125_000, "JPY") == "¥125,000"
    assert format_money(1_250_050, "USD", whole=True) == "$12,501"
    assert input_value(1_250_050, "USD") == "12500.50"
    assert input_value(0, "USD") == ""
