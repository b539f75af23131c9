"""The storage interface: round trips, hashes, atomic writes, server-made keys, and files
deleted when their database transaction does not commit."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from lms.core import storage as storage_module
from lms.core.storage import (
    KEY,
    LocalStorage,
    Storage,
    StoredObjectTooLarge,
    delete_unless_committed,
    get_storage,
)
from lms.extensions import db


@pytest.fixture
def store(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads")


def test_round_trip_returns_the_same_bytes_with_size_and_sha256(store):
    content = os.urandom(300_000)  # several chunks
    stored = store.save(io.BytesIO(content), suffix=".pdf")
    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert store.exists(stored.key)
    with store.open(stored.key) as handle:
        assert handle.read() == content


def test_save_reads_from_the_current_position(store):
    stream = io.BytesIO(b"headerBODY")
    stream.seek(6)
    stored = store.save(stream)
    with store.open(stored.key) as handle:
        assert handle.read() == b"BODY"


def test_empty_stream_is_stored(store):
    stored = store.save(io.BytesIO(b""))
    assert stored.size == 0 and stored.sha256 == hashlib.sha256(b"").hexdigest()


def test_keys_are_server_made_and_fan_out(store):
    keys = {store.save(io.BytesIO(b"x"), suffix=".docx").key for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert KEY.match(key) and key.endswith(".docx")
        first, second, name = key.split("/")
        assert name.startswith(first + second)
        assert (store.root / key).is_file()


@pytest.mark.parametrize(
    "suffix", ["../evil", ".PDF", "/etc/passwd", ".p df", "pdf", ".toolongextension", "报告.pdf"]
)
def test_suffix_cannot_smuggle_user_input_into_the_key(store, suffix):
    with pytest.raises(ValueError):
        store.save(io.BytesIO(b"x"), suffix=suffix)
    assert not store.root.exists() or not any(store.root.rglob("*"))


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "ab/cd/../../x", "/etc/passwd", "ab/cd/report.pdf", ""]
)
def test_keys_not_made_by_the_server_are_refused(store, key):
    for operation in (store.open, store.delete, store.exists):
        with pytest.raises(ValueError):
            operation(key)


def test_delete_removes_and_tolerates_absent_keys(store):
    stored = store.save(io.BytesIO(b"x"))
    store.delete(stored.key)
    assert not store.exists(stored.key)
    store.delete(stored.key)  # no error
    with pytest.raises(FileNotFoundError):
        store.open(stored.key)


class FailingStream(io.RawIOBase):
    """Gives one chunk, then fails: a client that disconnects mid-upload."""

    def __init__(self):
        self.calls = 0

    def readable(self):
        return True

    def read(self, size=-1):
        self.calls += 1
        if self.calls > 1:
            raise OSError("connection reset")
        return b"a" * 1000


def test_a_failed_write_leaves_neither_the_object_nor_a_temporary_file(store):
    with pytest.raises(OSError):
        store.save(FailingStream(), suffix=".pdf")
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_writes_go_to_a_temporary_file_renamed_into_place(store, monkeypatch):
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        # at rename time the final name does not exist yet and the data is complete
        assert not os.path.exists(dst)
        with open(src, "rb") as handle:
            renames.append((os.path.basename(src), handle.read()))
        real_replace(src, dst)

    monkeypatch.setattr(storage_module.os, "replace", spy)
    stored = store.save(io.BytesIO(b"complete"), suffix=".txt")
    assert len(renames) == 1
    assert renames[0][0].startswith(".tmp-") and renames[0][1] == b"complete"
    assert (store.root / stored.key).read_bytes() == b"complete"


def test_max_size_stops_the_write_and_keeps_nothing(store):
    with pytest.raises(StoredObjectTooLarge):
        store.save(io.BytesIO(b"x" * 200_000), max_size=100_000)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    assert store.save(io.BytesIO(b"x" * 100), max_size=100).size == 100


def test_get_storage_uses_the_upload_dir_and_is_cached(app):
    with app.app_context():
        first = get_storage()
        assert isinstance(first, Storage)
        assert str(first.root) == app.config["LMS_UPLOAD_DIR"]
        assert get_storage() is first


def test_stored_object_is_deleted_when_the_transaction_rolls_back(app, store):
    stored = store.save(io.BytesIO(b"draft"))
    delete_unless_committed(db.session(), store, stored.key)
    db.session.rollback()
    assert not store.exists(stored.key)


def test_stored_object_is_kept_when_the_transaction_commits(app, store):
    stored = store.save(io.BytesIO(b"final"))
    delete_unless_committed(db.session(), store, stored.key)
    db.session.commit()
    db.session.rollback()  # a later rollback no longer concerns it
    assert store.exists(stored.key)


def test_a_savepoint_commit_does_not_make_the_object_permanent(app, store):
    stored = store.save(io.BytesIO(b"nested"))
    delete_unless_committed(db.session(), store, stored.key)
    with db.session.begin_nested():
        pass
    assert store.exists(stored.key)
    db.session.rollback()
    assert not store.exists(stored.key)
