"""transaction() nests: inside an open transaction it is a savepoint of the outer one."""

from __future__ import annotations

import sqlite3

import pytest

from kiosk.store.db import connect, open_db, transaction


class Refused(Exception):
    pass


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "gate.db", "gate")
    db.conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")
    yield db
    db.conn.close()


def kept(db) -> list[str]:
    """What another connection sees: only committed rows."""
    other = connect(db.conn.execute("PRAGMA database_list").fetchone()[2])
    try:
        return [row[0] for row in other.execute("SELECT text FROM notes ORDER BY rowid")]
    finally:
        other.close()


def write(conn: sqlite3.Connection, text: str) -> None:
    conn.execute("INSERT INTO notes VALUES (?)", [text])


def test_outer_and_inner_commit_together(db):
    with transaction(db) as conn:
        write(conn, "outer")
        with transaction(db) as inner:
            write(inner, "inner")
        assert kept(db) == []  # nothing is committed before the outer transaction ends
    assert kept(db) == ["outer", "inner"]
    assert not db.conn.in_transaction


def test_an_inner_failure_not_caught_rolls_back_both(db):
    with pytest.raises(Refused):
        with transaction(db) as conn:
            write(conn, "outer")
            with transaction(db) as inner:
                write(inner, "inner")
                raise Refused
    assert kept(db) == []
    assert not db.conn.in_transaction


def test_an_outer_failure_after_the_inner_succeeded_rolls_back_both(db):
    with pytest.raises(Refused):
        with transaction(db) as conn:
            with transaction(db) as inner:
                write(inner, "inner")
            write(conn, "outer")
            raise Refused
    assert kept(db) == []


def test_an_inner_failure_caught_rolls_back_that_level_only_at_any_depth(db):
    with transaction(db) as conn:
        write(conn, "1")
        with transaction(db) as second:
            write(second, "2")
            with pytest.raises(Refused):
                with transaction(db) as third:
                    write(third, "3")
                    raise Refused
            write(second, "2b")
        with pytest.raises(Refused):
            with transaction(db) as second:
                write(second, "x")
                raise Refused
        write(conn, "1b")
    assert kept(db) == ["1", "2", "2b", "1b"]


def test_a_rollback_by_sqlite_itself_ends_both_levels_cleanly(db):
    db.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON notes WHEN NEW.text = 'bad' "
                    "BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        with transaction(db) as conn:
            write(conn, "outer")
            with transaction(db) as inner:
                write(inner, "bad")
    assert (kept(db), db.conn.in_transaction) == ([], False)
    with transaction(db) as conn:  # the connection is usable again
        write(conn, "next")
    assert kept(db) == ["next"]
