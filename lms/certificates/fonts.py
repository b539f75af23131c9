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

Without any usable font the certificates fall back to ``STSong-Light``, one of the Adobe CID
fonts every PDF reader with the Asian font pack knows: it is *not embedded*, so the text is
still extractable, but a reader without that pack shows boxes or substitutes another font.
``check_certificate_font`` (run by the app factory) makes production refuse to start without
a real font and logs a WARNING at every start elsewhere; each certificate records the font
its PDF was rendered with, and an admin can re-render it (lms.certificates.pdf).
``python -m lms.certificates.fonts`` (run by ``make run``) says which font is used, or how
to get one.
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

    @property
    def label(self) -> str:
        """What a certificate records: the font's file name, or the CID font's name."""
        return os.path.basename(self.path) if self.path else self.name


class CertificateFontError(RuntimeError):
    """Raised at startup in production without a usable, embeddable certificate font."""


HOW_TO_GET_A_FONT = (
    "install one (Debian/Ubuntu: sudo apt-get install fonts-wqy-zenhei) or set "
    "LMS_CERT_FONT to a TrueType .ttf/.ttc file"
)


def check_certificate_font(app) -> CertificateFont:
    """The startup check (called by the app factory): certificate PDFs must embed their font.

    Production refuses to start without one: a PDF rendered with the non-embedded fallback
    shows boxes in most viewers, and it is stored for good. Elsewhere a WARNING is logged
    at every start, so that nobody mistakes the fallback for a working setup.
    """
    configured = app.config.get("LMS_CERT_FONT") or ""
    font = resolve_font(configured)
    problem = font_problem(configured, font)
    if problem is None:
        return font
    if app.config.get("LMS_ENV") == "production":
        raise CertificateFontError(f"LMS_ENV=production refuses to start. {problem}")
    log.warning("%s Certificates rendered now will stay broken until re-rendered.", problem)
    return font


def font_problem(configured: str, font: CertificateFont) -> str | None:
    """What is wrong with the font found for ``LMS_CERT_FONT=configured``, or None."""
    if configured and font.path != configured:
        return (
            f"LMS_CERT_FONT={configured!r} is not a usable TrueType font file (.ttf, .ttc, "
            f"or .otf with TrueType outlines); certificate PDFs would use "
            f"{font.path or FALLBACK_CID_FONT} instead. To fix it, {HOW_TO_GET_A_FONT}."
        )
    if not font.embedded:
        return (
            f"No CJK TrueType font for certificate PDFs (LMS_CERT_FONT unset, system paths, "
            f"fc-list): PDFs would use the non-embedded {FALLBACK_CID_FONT}, shown as boxes "
            f"by readers without an Asian font pack. To fix it, {HOW_TO_GET_A_FONT}."
        )
    return None


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


if __name__ == "__main__":  # `make run`: tell a newcomer which font certificates get
    logging.basicConfig(level=logging.ERROR)
    wanted = os.environ.get("LMS_CERT_FONT", "")
    found = resolve_font(wanted)
    trouble = font_problem(wanted, found)
    print(f"WARNING: {trouble}" if trouble else f"Certificate PDFs embed the font {found.path}.")
