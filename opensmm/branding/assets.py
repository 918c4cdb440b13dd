"""The logo and the favicon: checked by their bytes, stored in the database, served back.

The type is read from the file's first bytes, never from its name or the browser's word,
and only raster types are kept: an SVG can carry scripts and links, so it is refused rather
than trusted to a sanitizer. Each picture is served with its checked type, ``nosniff`` and
its hash as ETag; the pages link it with that hash in the URL, so a new picture shows at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.branding.models import PanelAsset
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.panel_settings import service as panel_settings

PNG = (b"\x89PNG\r\n\x1a\n", "image/png")
JPEG = (b"\xff\xd8\xff", "image/jpeg")
ICO = (b"\x00\x00\x01\x00", "image/x-icon")


@dataclass(frozen=True)
class Kind:
    """What one asset accepts."""

    max_bytes: int
    magics: tuple[tuple[bytes, str], ...]
    webp: bool
    refusal: str


KINDS: dict[str, Kind] = {
    "logo": Kind(512 * 1024, (PNG, JPEG), True,
                 N_("A logo is a PNG, JPEG or WebP picture of at most 512 KB")),
    "favicon": Kind(100 * 1024, (PNG, ICO), False,
                    N_("A favicon is an ICO or PNG picture of at most 100 KB")),
}


class AssetRefused(DomainError):
    message = N_("This picture cannot be used")


@dataclass(frozen=True)
class Asset:
    content_type: str
    data: bytes
    etag: str


def _kind(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise AssetRefused(N_("Unknown picture {name!r}; known: {known}"), name=name[:16],
                           known=", ".join(KINDS))
    return kind


def sniff(name: str, data: bytes) -> str:
    """The checked content type of ``data`` as the asset ``name``, or a refusal."""
    kind = _kind(name)
    if not data:
        raise AssetRefused(N_("Choose a file to upload"))
    if len(data) > kind.max_bytes:
        raise AssetRefused(kind.refusal)
    for magic, content_type in kind.magics:
        if data.startswith(magic) and len(data) > len(magic) + 8:
            return content_type
    if kind.webp and len(data) >= 16 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise AssetRefused(kind.refusal)


def store(session: Session, name: str, data: bytes, actor: Actor) -> Asset:
    """Check and keep the picture ``name``; a refusal changes nothing."""
    content_type = sniff(name, data)
    etag = hashlib.sha256(data).hexdigest()[:32]
    row = session.get(PanelAsset, name)
    if row is None:
        session.add(PanelAsset(name=name, content_type=content_type, data=data, etag=etag,
                               updated_at=utcnow()))
    else:
        row.content_type, row.data, row.etag, row.updated_at = (
            content_type, data, etag, utcnow()
        )
    panel_settings.set_uploaded(session, name, etag, actor)
    return Asset(content_type, data, etag)


def remove(session: Session, name: str, actor: Actor) -> None:
    """Go back to no picture (the panel's name alone; the bundled icon)."""
    _kind(name)
    row = session.get(PanelAsset, name)
    if row is not None:
        session.delete(row)
    panel_settings.set_uploaded(session, name, "", actor)


def load(session: Session, name: str) -> Asset | None:
    if name not in KINDS:
        return None
    row = session.execute(
        select(PanelAsset.content_type, PanelAsset.data, PanelAsset.etag)
        .where(PanelAsset.name == name)
    ).one_or_none()
    return None if row is None else Asset(row[0], bytes(row[1]), row[2])
