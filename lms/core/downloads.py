"""File names and downloads: one helper for every attachment the service sends.

``sanitize_filename`` makes an uploaded or generated name safe to store and to send;
``send_download`` answers a file (stream, spooled file or bytes) as an attachment with
Content-Disposition (an ASCII ``filename`` and the real one as ``filename*``, RFC 6266),
``X-Content-Type-Options: nosniff`` and ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response

RFC5987 = "!#$&+-.^_`|~"  # attr-chars that need no percent-encoding in filename*

_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")
MAX_NAME_BYTES = 255


def sanitize_filename(raw: str | None) -> str:
    """A display name safe to store and to put in Content-Disposition.

    Keeps the last path segment (``/`` and ``\\`` both separate), drops control and format
    characters (including bidi overrides that disguise extensions), replaces characters
    Windows refuses, strips leading dots and trailing dots and spaces, keeps Chinese, and
    cuts the stem so that the whole name fits 255 bytes of UTF-8. Empty becomes "file".
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        ch
        for ch in name
        if unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in ("Zl", "Zp")
    )
    name = _SPACES.sub(" ", _UNSAFE_CHARS.sub("_", name)).strip()
    name = name.lstrip(".").rstrip(". ").strip()
    return _fit(name, MAX_NAME_BYTES) or "file"


def _fit(name: str, limit: int) -> str:
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = dot + ext if dot and len(ext.encode("utf-8")) <= 16 else ""
    stem = stem if suffix else name
    budget = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return cut + suffix


def extension_of(filename: str) -> str:
    """The lowercase extension of a (sanitised) name, with its dot; '' when there is none."""
    stem, dot, ext = filename.rpartition(".")
    return f".{ext.lower()}" if dot and stem and ext else ""


def content_disposition(filename: str) -> dict:
    """Content-Disposition parameters: ``filename`` for old clients (ASCII, keeping the
    extension even when nothing of a Chinese stem survives) and ``filename*`` for the real
    name when the two differ."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = sanitize_filename(ascii_name)
    if ascii_name == filename:
        return {"filename": filename}
    if not extension_of(ascii_name):
        ascii_name = "file" + extension_of(filename)
    return {"filename": ascii_name, "filename*": "UTF-8''" + quote(filename, safe=RFC5987)}


def as_download(response: Response, filename: str) -> Response:
    """Mark ``response`` as a private attachment named ``filename``."""
    response.headers.set("Content-Disposition", "attachment", **content_disposition(filename))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
