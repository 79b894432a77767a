import pytest

from crm.kernel import normalize


def test_email_is_lower_cased_and_validated():
    assert normalize.email("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    with pytest.raises(normalize.BadValue):
        normalize.email("ann@")


@pytest.mark.parametrize("raw", ["(202) 555-0142", "+1 202 555 0142", "202.555.0142", "2025550142"])
def test_phone_formats_become_e164(raw):
    assert normalize.phone(raw) == "+12025550142"


def test_phone_with_other_country_and_garbage():
    assert normalize.phone("+44 20 7946 0958") == "+442079460958"
    assert normalize.phone("020 7946 0958", region="GB") == "+442079460958"
    with pytest.raises(normalize.BadValue):
        normalize.phone("call me maybe")


def test_domain_and_website():
    assert normalize.domain("https://www.Example.com/about") == "example.com"
    assert normalize.domain("acme.co.uk") == "acme.co.uk"
    assert normalize.website("acme.com") == "https://acme.com"
    with pytest.raises(normalize.BadValue):
        normalize.website("javascript:alert(1)")
    for broken in ("https://a.example\r\nEMAIL:x@evil.example", "acme.com/a b", "a.com\x00"):
        with pytest.raises(normalize.BadValue):
            normalize.website(broken)
