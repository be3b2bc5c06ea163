"""Ed25519 signatures over what a reviewer approved.

The private key is per deployment and lives outside the database, in
``DATA_DIR/keys/publishing_ed25519.pem`` (mode 600, created on first use): a copied or edited
database cannot forge a sign-off. Each signature stores the public key and its id, so old
signatures still verify after the key is replaced, and ``verify`` can tell which key made them.

What is signed is a *statement* of a few lines (revision, content hash, signer, time, address),
so a signature cannot be moved to another revision, person or moment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings

STATEMENT_VERSION = "yuqing-publishing-signoff-v1"
_lock = threading.Lock()


def key_path() -> Path:
    return Path(settings.DATA_DIR) / "keys" / "publishing_ed25519.pem"


def _create(path: Path) -> Ed25519PrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def _read(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def private_key() -> Ed25519PrivateKey:
    path = key_path()
    with _lock:
        return _read(path) if path.exists() else _create(path)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id_of(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def current_key_id() -> str:
    return key_id_of(private_key().public_key())


@dataclass(frozen=True)
class Signed:
    statement: str
    signature: str  # base64
    key_id: str
    public_key: str  # PEM


def statement_for(
    *,
    revision_id: int,
    draft_id: int,
    content_hash: str,
    signer_id: int,
    signer_name: str,
    signed_at: str,
    ip: str,
    step: str,
) -> str:
    lines = [
        STATEMENT_VERSION,
        f"draft: {draft_id}",
        f"revision: {revision_id}",
        f"content-sha256: {content_hash}",
        f"step: {step}",
        f"signer: {signer_id} {signer_name}",
        f"at: {signed_at}",
        f"from: {ip}",
    ]
    return "\n".join(line.replace("\n", " ") for line in lines)


def sign(statement: str) -> Signed:
    key = private_key()
    raw = key.sign(statement.encode("utf-8"))
    public = key.public_key()
    return Signed(
        statement=statement,
        signature=base64.b64encode(raw).decode(),
        key_id=key_id_of(public),
        public_key=public_pem(public),
    )


def verify(*, statement: str, signature: str, public_key: str) -> bool:
    try:
        key = serialization.load_pem_public_key(public_key.encode())
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(signature, validate=True), statement.encode("utf-8"))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def statement_hash(statement: str) -> str | None:
    """The content hash a statement names (None when it names none)."""
    for line in statement.splitlines():
        if line.startswith("content-sha256: "):
            return line.split(": ", 1)[1].strip()
    return None
