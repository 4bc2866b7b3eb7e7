"""Approval links as QR codes: a PNG to send as a photo, and text for the terminal chat."""

from __future__ import annotations

import io

import segno

# Medium error correction survives a photo of a screen; the link is short enough for a small
# symbol. A scale of 8 gives a ~400 px image, sharp at Telegram's sizes.
_ERROR, _SCALE, _BORDER = "m", 8, 4


def png(link: str) -> bytes:
    """The link as a black-on-white PNG QR code."""
    out = io.BytesIO()
    segno.make(link, error=_ERROR).save(out, kind="png", scale=_SCALE, border=_BORDER)
    return out.getvalue()


def terminal(link: str) -> str:
    """The link as a QR code drawn with block characters (two modules per line)."""
    out = io.StringIO()
    segno.make(link, error=_ERROR).terminal(out=out, compact=True, border=2)
    return out.getvalue()
