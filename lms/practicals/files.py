"""Checks on uploaded files: a safe display name, the extension, and content that matches it.

The extension a teacher claims is checked against the bytes, so that a renamed executable
or a broken document is refused at upload rather than discovered by the grader. Files are
always downloaded as attachments with ``nosniff``; the checks are about honesty and
integrity, not about making hostile content safe to render.

Decisions:
- Text (.txt, .md, .csv) must be UTF-8 (a BOM is allowed) without NUL bytes. GB18030 is
  refused: almost any byte sequence decodes as GB18030, so accepting it would make the text
  check meaningless, and the files are read back as UTF-8. The message asks for UTF-8.
- Office Open XML (.docx, .xlsx, .pptx) must be a well-formed, unencrypted zip that holds
  ``[Content_Types].xml`` and the part folder of its kind (``word/``, ``xl/``, ``ppt/``).
  Zips must start with a local file header (no data prepended: no polyglots), and the sizes
  they declare are bounded (a zip bomb is refused without being inflated).
- An extension a module allows but which has no check here (a CAD format, say) is stored as
  application/octet-stream without a content check: the admin chose to accept it.
- Empty files are refused whatever their type.
"""

from __future__ import annotations

import codecs
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

# Formats a practical accepts when its module does not list any.
DEFAULT_EXTENSIONS = (
    ".pdf",
    ".docx",
    ".xlsx",
    ".pptx",
    ".zip",
    ".png",
    ".jpg",
    ".jpeg",
    ".txt",
    ".md",
)
MAX_FILES = 10
DEFAULT_MAX_FILE_MB = 20

# Zip bomb guards, on the sizes the archive declares (nothing is inflated to check them).
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_UNCOMPRESSED = 1024 * 1024 * 1024  # 1 GiB in total
ZIP_MAX_RATIO = 200  # uncompressed / compressed, above 1 MiB uncompressed
_OOXML_CONTENT_TYPES_MAX = 1024 * 1024
CONTENT_TYPES = "[Content_Types].xml"

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ContentMismatch(Exception):
    """The bytes are not a valid file of the claimed type; ``en`` and ``zh`` say why."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True)
class FileKind:
    extension: str
    content_type: str
    check: Callable[[BinaryIO], None] | None


# --- content checks ------------------------------------------------------------------------


def _head(stream: BinaryIO, n: int) -> bytes:
    stream.seek(0)
    data = stream.read(n)
    stream.seek(0)
    return data


def _magic(*signatures: bytes, label: str) -> Callable[[BinaryIO], None]:
    def check(stream: BinaryIO) -> None:
        head = _head(stream, 16)
        if not any(head.startswith(s) for s in signatures):
            raise ContentMismatch(
                f"the content is not a {label} file", f"内容不是有效的 {label} 文件"
            )

    return check


def _check_text(stream: BinaryIO) -> None:
    """The whole file, chunk by chunk: UTF-8 (a BOM is fine) and no NUL byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(64 * 1024):
            if b"\x00" in chunk:
                raise ContentMismatch(
                    "the text contains NUL bytes (is it a binary file?)",
                    "文本中含有空字节（可能是二进制文件）",
                )
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ContentMismatch(
            "the text is not UTF-8; save it as UTF-8", "文本不是 UTF-8 编码，请另存为 UTF-8"
        ) from exc
    finally:
        stream.seek(0)


def _open_zip(stream: BinaryIO) -> zipfile.ZipFile:
    """Open a zip after the structural and bomb checks; raise ContentMismatch otherwise."""
    if not _head(stream, 4).startswith(b"PK\x03\x04"):
        raise ContentMismatch("the content is not a zip archive", "内容不是 zip 压缩包")
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ContentMismatch("the zip archive is damaged", "zip 压缩包已损坏") from exc
    if not infos:
        raise ContentMismatch("the zip archive is empty", "zip 压缩包为空")
    if len(infos) > ZIP_MAX_ENTRIES:
        raise ContentMismatch(
            f"the zip archive has more than {ZIP_MAX_ENTRIES} entries",
            f"zip 压缩包中的文件超过 {ZIP_MAX_ENTRIES} 个",
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise ContentMismatch(
            "the zip archive is encrypted; upload it without a password",
            "zip 压缩包已加密，请上传不带密码的压缩包",
        )
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise ContentMismatch(
                "the zip archive contains unsafe paths", "zip 压缩包中含有不安全的路径"
            )
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if total > ZIP_MAX_UNCOMPRESSED or (
        total > 1024 * 1024 and total > ZIP_MAX_RATIO * max(packed, 1)
    ):
        raise ContentMismatch("the zip archive expands to too much data", "zip 压缩包解压后过大")
    return archive


def _check_zip(stream: BinaryIO) -> None:
    _open_zip(stream).close()
    stream.seek(0)


def _ooxml(folder: str, label: str) -> Callable[[BinaryIO], None]:
    def check(stream: BinaryIO) -> None:
        try:
            archive = _open_zip(stream)
        except ContentMismatch as exc:
            raise ContentMismatch(
                f"the content is not a valid {label} document ({exc.en})",
                f"内容不是有效的 {label} 文档（{exc.zh}）",
            ) from exc
        with archive:
            _check_ooxml_parts(archive, folder, label)
        stream.seek(0)

    return check


def _check_ooxml_parts(archive: zipfile.ZipFile, folder: str, label: str) -> None:
    names = archive.namelist()
    if CONTENT_TYPES not in names or not any(n.startswith(folder) for n in names):
        raise ContentMismatch(f"the content is not a {label} document", f"内容不是 {label} 文档")
    damaged = ContentMismatch(f"the {label} document is damaged", f"{label} 文档已损坏")
    info = archive.getinfo(CONTENT_TYPES)
    if info.file_size > _OOXML_CONTENT_TYPES_MAX:
        raise damaged
    try:
        with archive.open(info) as part:  # inflates and CRC-checks one small part
            types = part.read(_OOXML_CONTENT_TYPES_MAX + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise damaged from exc
    if b"<Types" not in types:
        raise damaged


_KINDS = [
    FileKind(".pdf", "application/pdf", _magic(b"%PDF-", label="PDF")),
    FileKind(".png", "image/png", _magic(b"\x89PNG\r\n\x1a\n", label="PNG")),
    FileKind(".jpg", "image/jpeg", _magic(b"\xff\xd8\xff", label="JPEG")),
    FileKind(".jpeg", "image/jpeg", _magic(b"\xff\xd8\xff", label="JPEG")),
    FileKind(".gif", "image/gif", _magic(b"GIF87a", b"GIF89a", label="GIF")),
    FileKind(".zip", "application/zip", _check_zip),
    FileKind(
        ".docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ooxml("word/", "Word (.docx)"),
    ),
    FileKind(
        ".xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ooxml("xl/", "Excel (.xlsx)"),
    ),
    FileKind(
        ".pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ooxml("ppt/", "PowerPoint (.pptx)"),
    ),
    FileKind(".doc", "application/msword", _magic(_OLE, label="Word 97-2003")),
    FileKind(".xls", "application/vnd.ms-excel", _magic(_OLE, label="Excel 97-2003")),
    FileKind(".ppt", "application/vnd.ms-powerpoint", _magic(_OLE, label="PowerPoint 97-2003")),
    FileKind(".rar", "application/vnd.rar", _magic(b"Rar!\x1a\x07", label="RAR")),
    FileKind(".7z", "application/x-7z-compressed", _magic(b"7z\xbc\xaf\x27\x1c", label="7z")),
    FileKind(".txt", "text/plain; charset=utf-8", _check_text),
    FileKind(".md", "text/markdown; charset=utf-8", _check_text),
    FileKind(".csv", "text/csv; charset=utf-8", _check_text),
]
KINDS = {kind.extension: kind for kind in _KINDS}


def kind_for(extension: str) -> FileKind:
    """The checks of ``extension``; an unknown one is stored as opaque bytes."""
    return KINDS.get(extension) or FileKind(extension, "application/octet-stream", None)


def check_content(stream: BinaryIO, extension: str) -> FileKind:
    """Raise ContentMismatch unless the bytes of ``stream`` fit ``extension``; return its kind.

    The stream is left at position 0.
    """
    kind = kind_for(extension)
    if not _head(stream, 1):
        raise ContentMismatch("the file is empty", "文件为空")
    if kind.check is not None:
        kind.check(stream)
    stream.seek(0)
    return kind


def stream_size(stream: BinaryIO) -> int:
    """The length of a seekable stream, which is left at position 0."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size
