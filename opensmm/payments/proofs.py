"""A manual payment's proof: a picture of the receipt, or a PDF.

The type is read from the file's first bytes, never from the name or the browser's word,
and only these types are kept; they are served back with that type, ``nosniff`` and as an
attachment where a browser could run them.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensmm.errors import DomainError
from opensmm.i18n import N_

MAX_PROOF_BYTES = 2 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)


class ProofRefused(DomainError):
    pass


@dataclass(frozen=True)
class Proof:
    content_type: str
    data: bytes


def _sniff(data: bytes) -> str | None:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_proof(data: bytes) -> Proof | None:
    """The proof to keep, or ``None`` when no file was sent; refuses anything else."""
    if not data:
        return None
    if len(data) > MAX_PROOF_BYTES:
        raise ProofRefused(N_("A proof is at most 2 MB"))
    content_type = _sniff(data)
    if content_type is None:
        raise ProofRefused(N_("A proof is a PNG, JPEG or WebP picture, or a PDF"))
    return Proof(content_type, data)
