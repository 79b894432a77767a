"""A DKIM signing key made for the test run, and the DNS answer that publishes it.

No DNS here: tests hand `Signer.dns` to the code as its resolver (INBOUND_DKIM_DNSFUNC).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass

import dkim
import pytest


@dataclass
class Signer:
    private_pem: bytes
    public_b64: str
    selector: bytes = b"rapport-test"

    def sign(self, raw: bytes, domain: str) -> bytes:
        headers = [b"from", b"to", b"subject", b"date", b"message-id"]
        signature = dkim.sign(
            raw, self.selector, domain.encode(), self.private_pem, include_headers=headers
        )
        return signature + raw

    def dns(self, name: bytes, timeout: float = 5) -> bytes | None:
        """A resolver that publishes this key for every domain (and nothing else)."""
        if name.startswith(self.selector + b"._domainkey."):
            return f"v=DKIM1; k=rsa; p={self.public_b64}".encode()
        return None


def make_signer() -> Signer:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a DKIM test key")
    private = subprocess.run(
        ["openssl", "genrsa", "-traditional", "2048"], capture_output=True, check=True
    ).stdout
    public_der = subprocess.run(
        ["openssl", "rsa", "-pubout", "-outform", "DER"],
        input=private,
        capture_output=True,
        check=True,
    ).stdout
    return Signer(private, base64.b64encode(public_der).decode())
