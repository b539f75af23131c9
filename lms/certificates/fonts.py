"""The CJK font certificates are drawn with.

Where it comes from, first match wins:

1. ``LMS_CERT_FONT``: a TrueType font file (``.ttf``, ``.otf`` with TrueType outlines, or a
   ``.ttc`` collection, of which the first font is used);
2. well-known system paths (Debian/Ubuntu packages ``fonts-wqy-zenhei``, ``fonts-wqy-microhei``,
   ``fonts-arphic-uming``, ``fonts-droid-fallback``);
3. ``fc-list :lang=zh`` when fontconfig is installed (no network, a local command).

reportlab embeds a *subset* of the font (only the glyphs used) in every PDF, so the
certificate reads the same on any machine. reportlab only reads TrueType outlines: fonts
with PostScript (CFF) outlines, such as Noto Sans CJK / Source Han Sans (``fonts-noto-cjk``),
are skipped with a log line.

Without any usable font a WARNING is logged once per process and the certificates fall back
to ``STSong-Light``, one of the Adobe CID fonts every PDF reader with the Asian font pack knows:
it is *not embedded*, so the text is still extractable, but a reader without that pack
shows boxes or substitutes another font. Production machines should have a real font.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess  # noqa: S404 - fc-list, a local command with fixed arguments
from dataclasses import dataclass

from flask import current_app
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

FALLBACK_CID_FONT = "STSong-Light"
FONT_SUFFIXES = (".ttf", ".ttc", ".otf")
# TrueType-outline CJK fonts, most usual first. Noto Sans CJK is absent on purpose (CFF).
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",  # Fedora, Arch
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",  # macOS, for developers
)


@dataclass(frozen=True)
class CertificateFont:
    """A font registered with reportlab: its name there, its file (None for the fallback)."""

    name: str
    path: str | None

    @property
    def embedded(self) -> bool:
        return self.path is not None


def certificate_font() -> CertificateFont:
    """The font for certificates of this app (registered with reportlab on first use)."""
    return resolve_font(current_app.config.get("LMS_CERT_FONT") or "")


@functools.cache
def resolve_font(configured: str) -> CertificateFont:
    """Find and register the font; cached per process, so the warning is logged once."""
    for path in _candidates(configured):
        font = _register(path)
        if font is not None:
            log.info("certificate font: %s", path)
            return font
    log.warning(
        "No CJK TrueType font found (LMS_CERT_FONT=%r, system paths, fc-list): certificate "
        "PDFs fall back to the non-embedded %s font, which readers without an Asian font "
        "pack cannot show. Install fonts-wqy-zenhei or set LMS_CERT_FONT.",
        configured,
        FALLBACK_CID_FONT,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return CertificateFont(FALLBACK_CID_FONT, None)


def _candidates(configured: str):
    if configured:
        if os.path.isfile(configured) and configured.lower().endswith(FONT_SUFFIXES):
            yield configured
        else:
            log.warning("LMS_CERT_FONT=%r is not a .ttf/.ttc/.otf file; ignored", configured)
    yield from (path for path in SYSTEM_FONTS if os.path.isfile(path))
    yield from fontconfig_fonts()


def fontconfig_fonts() -> list[str]:
    """Font files that fontconfig says cover Chinese (empty without fontconfig)."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        listing = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = (line.strip().rstrip(":") for line in listing.splitlines())
    return sorted({f for f in files if f.lower().endswith(FONT_SUFFIXES)})


def _register(path: str) -> CertificateFont | None:
    """Register ``path`` with reportlab (first font of a collection); None if unusable."""
    name = "LmsCert-" + hashlib.sha256(path.encode()).hexdigest()[:12]
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    except (TTFError, OSError, ValueError) as error:
        log.info("certificate font %s skipped: %s", path, error)
        return None
    return CertificateFont(name, path)
