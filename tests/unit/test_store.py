"""R-SEC-LOG: every record is kept, and altering, inserting or deleting one is noticed."""
import sqlite3

import pytest
from hypothesis import given, settings, strategies as st

from examhw.store import ChainBroken, RecordStore


def _fill(store, n=5):
    for i in range(n):
        store.append("gate.decision", f"C{i:04d}", {"open": i % 2 == 0, "score": i / 10})


def test_records_survive_reopen(tmp_path):
    path = tmp_path / "r.sqlite"
    s = RecordStore(path)
    _fill(s)
    head = s.head
    s.close()                           # as if the process died right after the last append
    s2 = RecordStore(path)
    assert len(s2) == 5 and s2.head == head and s2.verify() == 5
    s2.append("after.restart", "x")
    assert s2.verify() == 6


@pytest.mark.parametrize("sql", [
    "UPDATE records SET data='{\"open\":true,\"score\":0.9}' WHERE seq=2",
    "DELETE FROM records WHERE seq=3",
    "UPDATE records SET type='gate.override' WHERE seq=4",
])
def test_tampering_is_detected(tmp_path, sql):
    path = tmp_path / "r.sqlite"
    s = RecordStore(path)
    _fill(s)
    s.close()
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()
    with pytest.raises(ChainBroken):
        RecordStore(path).verify()


def test_blobs_are_content_addressed_and_checked(tmp_path):
    path = tmp_path / "r.sqlite"
    s = RecordStore(path)
    h = s.put_blob(b"%PDF-1.4 sheet", "application/pdf")
    assert s.blob(h) == b"%PDF-1.4 sheet" and s.put_blob(b"%PDF-1.4 sheet", "application/pdf") == h
    s.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE blobs SET data=? WHERE sha256=?", (b"%PDF-1.4 forged", h))
    db.commit()
    db.close()
    with pytest.raises(ChainBroken):
        RecordStore(path).verify()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8),
                                                                  max_size=4)), max_size=12))
def test_any_records_verify(items):
    s = RecordStore(":memory:")
    for typ, data in items:
        s.append(typ or "t", "s", data)
    assert s.verify() == len(items)
    assert [r.data for r in s.records()] == [d for _, d in items]
