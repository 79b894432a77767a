"""A download's name fits the Content-Disposition header whatever its characters."""

import pytest

from crm.kernel.filenames import content_disposition


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ann Lee.vcf", 'attachment; filename="Ann Lee.vcf"'),
        (
            "张伟.vcf",
            "attachment; filename=\"contact.vcf\"; filename*=UTF-8''%E5%BC%A0%E4%BC%9F.vcf",
        ),
        (
            'a"b\r\nSet-Cookie: x;.vcf',
            'attachment; filename="ab Set-Cookie x.vcf"; '
            "filename*=UTF-8''a%22b%20Set-Cookie%3A%20x%3B.vcf",
        ),
        # The name is a clean_filename(): a slash is a character, a bidi override is dropped.
        ("AC/DC.vcf", 'attachment; filename="AC-DC.vcf"'),
        ("a\u202egpj.vcf", 'attachment; filename="agpj.vcf"'),
        ("", 'attachment; filename="contact"'),
    ],
)
def test_content_disposition(name, expected):
    value = content_disposition(name, "contact")
    assert value == expected
    value.encode("latin-1")  # what a WSGI server must be able to send
