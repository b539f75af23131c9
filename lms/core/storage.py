"""Where uploaded files live: a small storage interface and its local-disk implementation.

Callers only see opaque keys made by the server (``ab/cd/<uuid4 hex><.ext>``); a user's file
name never reaches the file system. ``LocalStorage`` can later be swapped for object storage
(S3, OSS, MinIO) behind the same four methods.

Files and database rows live in two systems that do not share a transaction. A service that
stores a file calls ``delete_unless_committed``: if the database transaction then rolls back
(a refused rule, a lost race, a failing commit at the request boundary), the file is deleted,
so that no object is left without its row. A service that replaces a file calls
``delete_when_committed`` for the old one: it is deleted only once the new row is durable.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
SUFFIX = re.compile(r"^(\.[a-z0-9]{1,10})?$")
KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}(\.[a-z0-9]{1,10})?$")
_EXTENSION_KEY = "lms.storage"


@dataclass(frozen=True)
class StoredObject:
    """What ``Storage.save`` wrote: its key, its size in bytes and its SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


class StoredObjectTooLarge(Exception):
    """The stream was longer than the ``max_size`` given to ``save``; nothing was kept."""


class Storage(abc.ABC):
    """Binary objects under server-made keys."""

    @abc.abstractmethod
    def save(
        self, stream: BinaryIO, *, suffix: str = "", max_size: int | None = None
    ) -> StoredObject:
        """Store ``stream`` from its current position to its end under a new key.

        ``suffix`` ('' or a lowercase extension such as '.pdf') ends the key.
        """

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The stored object as a binary file object (the caller closes it)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; deleting an absent key is not an error."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""


def new_key(suffix: str = "") -> str:
    """A fresh random key: two levels of fan-out, then 128 random bits and the suffix."""
    if not SUFFIX.match(suffix):
        raise ValueError(f"not a storage suffix: {suffix!r}")
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name[2:4]}/{name}{suffix}"


class LocalStorage(Storage):
    """Objects as files below ``root``. Writes go to a temporary file in the target
    directory, which is fsynced and then renamed into place: a reader never sees half a
    file, and a crash leaves at most a ``.tmp-*`` file behind, never a truncated object."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not KEY.match(key):  # keys come from our database; refuse anything else
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def save(self, stream, *, suffix="", max_size=None):
        key = new_key(suffix)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest = _copy(stream, out, max_size)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredObject(key=key, size=size, sha256=digest)

    def open(self, key):
        return self._path(key).open("rb")

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def exists(self, key):
        return self._path(key).is_file()


def _copy(stream: BinaryIO, out: BinaryIO, max_size: int | None) -> tuple[int, str]:
    """Copy in chunks, hashing as we go; return (size, sha256 hex)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        size += len(chunk)
        if max_size is not None and size > max_size:
            raise StoredObjectTooLarge(size)
        digest.update(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def get_storage() -> Storage:
    """The app's storage (created on first use from ``LMS_UPLOAD_DIR``, then cached)."""
    storage = current_app.extensions.get(_EXTENSION_KEY)
    if storage is None:
        storage = LocalStorage(current_app.config["LMS_UPLOAD_DIR"])
        current_app.extensions[_EXTENSION_KEY] = storage
    return storage


# --- files written inside a database transaction --------------------------------------------

_PENDING = "lms.storage.pending"
_REPLACED = "lms.storage.replaced"


def delete_unless_committed(session: Session, storage: Storage, key: str) -> None:
    """Delete ``key`` when the session's current transaction ends without a commit."""
    session.connection()  # begins the transaction if none is open yet, so its end is seen
    session.info.setdefault(_PENDING, []).append((storage, key))


def delete_when_committed(session: Session, storage: Storage, key: str) -> None:
    """Delete ``key`` once the session's current transaction commits (a file its rows no
    longer point to); if the transaction does not commit, the file stays, as do the rows."""
    session.connection()
    session.info.setdefault(_REPLACED, []).append((storage, key))


@event.listens_for(Session, "after_commit")
def _keep_committed(session: Session) -> None:
    # Fired for savepoints too; only the outermost commit makes the rows durable.
    if session.get_nested_transaction() is None:
        session.info.pop(_PENDING, None)
        for storage, key in session.info.pop(_REPLACED, ()):
            try:
                storage.delete(key)
            except Exception:  # committed already: an orphan file, not a broken row
                log.exception("could not delete replaced stored object %s", key)


@event.listens_for(Session, "after_transaction_end")
def _delete_uncommitted(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_REPLACED, None)  # not committed: the rows still point to those files
    for storage, key in session.info.pop(_PENDING, ()):
        try:
            storage.delete(key)
        except Exception:  # the original error matters more; leave a trace for cleanup
            log.exception("could not delete uncommitted stored object %s", key)
