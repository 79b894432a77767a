"""Exact money: decimal text in, integer minor units stored, formatted text out."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crm.errors import Invalid

# ISO 4217 minor-unit exponents that are not 2.
EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
MAX_MINOR = 10**15  # far below BigInteger's limit, far above any deal


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def parse_money(text: str | None, currency: str) -> int:
    """'12,500.50' → 1250050 (USD); '1,000' → 1000 (JPY); too many decimals are refused."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "").replace("\u00a0", "")
    if cleaned == "":
        return 0
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise Invalid("Enter an amount like 12,500.50.", "value") from None
    if not amount.is_finite():
        raise Invalid("Enter an amount like 12,500.50.", "value")
    if amount < 0:
        raise Invalid("The value cannot be negative.", "value")
    exp = exponent(currency)
    scaled = amount.scaleb(exp)
    if scaled != scaled.to_integral_value():
        places = "no decimals" if exp == 0 else f"at most {exp} decimals"
        raise Invalid(f"{currency} amounts have {places}.", "value")
    minor = int(scaled)
    if minor >= MAX_MINOR:
        raise Invalid("That value is too large.", "value")
    return minor


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def input_value(minor: int | None, currency: str) -> str:
    """The text an edit form shows: plain, no grouping, all the currency's decimals."""
    if not minor:
        return ""
    exp = exponent(currency)
    return f"{to_decimal(minor, currency):.{exp}f}"


def format_money(minor: int | None, currency: str, *, whole: bool = False) -> str:
    """1250050, 'USD' → '$12,500.50'; whole=True rounds to units for compact totals."""
    exp = exponent(currency)
    amount = to_decimal(minor or 0, currency)
    if whole:
        amount = amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        exp = 0
    text = f"{amount:,.{exp}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
