"""One spelling per email address: what every way in (users API, imports, login) stores
and compares.

``normalize_email``: NFKC (fullwidth ``ｔeacher01`` is ``teacher01``), trimmed and
lowercased; format characters (zero-width spaces and joiners, bidi controls, soft hyphens),
controls and spaces are refused; the letters of the local part and of each domain label
must be of one script, or of a combination UTS #39 calls "highly restrictive" (Latin with
Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul), so that
``dеmo.lms.cn`` with a Cyrillic ``е`` is refused rather than a second account; the domain
is stored in its IDNA (RFC 5891, UTS #46) ASCII form (``中国`` -> ``xn--fiqs8s``).
"""

from __future__ import annotations

import unicodedata

import idna

# Scripts that may share a label (UTS #39, "highly restrictive"); any single script may.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# The first word of a letter's Unicode name, where it is not the script's name.
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN"}

MIXED_SCRIPT = (
    "The email mixes letters of different scripts (e.g. a Cyrillic letter among Latin "
    "ones); type it again. 邮箱中混用了不同文字的字母（如拉丁字母中夹有西里尔字母），请重新输入。"
)
INVISIBLE = (
    "The email contains invisible, control or space characters. "
    "邮箱中含有不可见字符、控制字符或空格。"
)
NOT_AN_EMAIL = "Not a valid email address. 邮箱地址无效。"
BAD_DOMAIN = "The email's domain is not a valid domain name. 邮箱的域名无效。"


def _script(char: str) -> str | None:
    """The script of a letter (from its Unicode name), None for anything else."""
    if not unicodedata.category(char).startswith("L"):
        return None
    if char.isascii():
        return "LATIN"
    word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(word, word)


def mixes_scripts(text: str) -> bool:
    """True when the letters of ``text`` are of scripts that may not be mixed."""
    scripts = {s for s in map(_script, text) if s}
    if len(scripts) <= 1:
        return False
    return not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def normalize_email(value: str) -> str:
    """The stored form of the email ``value``; ValueError (its message in English and
    Chinese) when it cannot be one."""
    text = unicodedata.normalize("NFKC", value).strip()
    if any(unicodedata.category(c) in ("Cf", "Cc", "Zs", "Zl", "Zp") for c in text):
        raise ValueError(INVISIBLE)
    text = text.lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(NOT_AN_EMAIL)
    if mixes_scripts(local) or any(mixes_scripts(label) for label in domain.split(".")):
        raise ValueError(MIXED_SCRIPT)
    if domain.isascii():  # already its own IDNA form; the Email validator checks its syntax
        return f"{local}@{domain}"
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(BAD_DOMAIN) from exc
    return f"{local}@{ascii_domain}"
