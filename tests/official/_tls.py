"""A test certificate authority for ``localhost``: trustme where installed, else the openssl command.

The ``official`` tox env installs only the official client and pytest, so trustme may be
missing there; the openssl command line is on most machines. Neither: the test skips.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Tuple

import pytest

_LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def contexts(folder: Path) -> Tuple[ssl.SSLContext, ssl.SSLContext, str]:
    """(server context for localhost, client context trusting it, the CA's PEM file)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca_file = folder / "ca.pem"
    try:
        import trustme
    except ImportError:
        _openssl(folder, server)
    else:
        ca = trustme.CA()
        ca.issue_cert("localhost").configure_cert(server)
        ca.cert_pem.write_to_path(str(ca_file))
    client = ssl.create_default_context(cafile=str(ca_file))
    return server, client, str(ca_file)


def _openssl(folder: Path, server: ssl.SSLContext) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs trustme or the openssl command to make a test certificate")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=replicate_min test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", *key, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (folder / "leaf.ext").write_text(_LEAF_EXTENSIONS)
    run(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext",
    )  # fmt: skip
    server.load_cert_chain(str(folder / "leaf.pem"), str(folder / "leaf.key"))
