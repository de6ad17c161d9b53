"""A country pack's files: the fingerprint of the whole folder (what tells an installed
pack from a changed one), and the certificate logo, checked when the pack is validated,
carried inside the installed document as a data: URI (pack folders are not kept on
servers) and read back for the certificate PDF and the site's header."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any


LOGO_MAX_BYTES = 256 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _logo_type(data: bytes) -> str | None:
    return next((media for magic, media in LOGO_TYPES.items() if data.startswith(magic)), None)


def logo_problem(root: Path, name: str) -> str | None:
    """Why the certificate logo file cannot be used, or None."""
    path = root / name
    if name.startswith("data:"):
        return None  # already inlined (a document read back from the database)
    if not path.is_file() or root.resolve() not in path.resolve().parents:
        return f"file {name!r} is not in the pack"
    data = path.read_bytes()
    if len(data) > LOGO_MAX_BYTES:
        return f"file {name!r} is {len(data) // 1024} KiB; at most {LOGO_MAX_BYTES // 1024} KiB"
    if _logo_type(data) is None:
        return f"file {name!r} is neither PNG nor JPEG"
    return None


def inline_logo(root: Path, document: dict[str, Any]) -> dict[str, Any]:
    """The document with ``certificates.logo`` as a data: URI, so that the installed
    document carries the image to every process (pack folders are not kept on servers)."""
    name = document.get("certificates", {}).get("logo")
    if not name or name.startswith("data:"):
        return document
    data = (root / name).read_bytes()
    uri = f"data:{_logo_type(data)};base64,{base64.b64encode(data).decode('ascii')}"
    return {**document, "certificates": {**document["certificates"], "logo": uri}}


def logo_bytes(document: dict[str, Any]) -> bytes | None:
    """The certificate logo of an installed document (see :func:`inline_logo`)."""
    uri = document.get("certificates", {}).get("logo")
    if not uri or not uri.startswith("data:"):
        return None
    return base64.b64decode(uri.partition(",")[2])


def content_hash(root: Path) -> str:
    """SHA-256 over every file of the pack (relative path and bytes), order-independent."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root).as_posix()).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
