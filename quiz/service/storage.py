"""The service's answers in SQLite: one row per answer, keyed by the learner and the id the kernel made."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..learner import file_name

DATABASE = "answers.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    learner TEXT NOT NULL,
    id TEXT NOT NULL,
    record TEXT NOT NULL,     -- the answer's JSON line, as the folder mode writes it
    received TEXT NOT NULL,
    PRIMARY KEY (learner, id)
);
"""


class Store:
    """The answers table: add() stores each (learner, id) once; records() and export() read them back."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / DATABASE
        # One connection, used from the service's one event loop (and tests' threads): a lock keeps it whole.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            # WAL: readers (the class view, an export) never wait for a writer, nor a writer for them.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def add(self, learner: str, records: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Store each record under learner unless its id is already there; (stored, duplicates)."""
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        rows = [(learner, record["id"], _line(record), now) for record in records]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            stored = self._db.total_changes - before
        return stored, len(rows) - stored

    def records(self, learner: str | None = None) -> list[dict[str, Any]]:
        """Every stored record (or one learner's), in the order they arrived."""
        query, args = "SELECT record FROM answers ORDER BY rowid", ()
        if learner is not None:
            query, args = "SELECT record FROM answers WHERE learner = ? ORDER BY rowid", (learner,)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def lines(self) -> list[bytes]:
        """Every stored record as the folder mode's JSON line (no newline)."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM answers ORDER BY rowid").fetchall()
        return [row[0].encode("utf-8") for row in rows]

    def latest(self) -> int:
        """The newest row's number (0 when empty): it changes whenever an answer is stored."""
        with self._lock:
            return self._db.execute("SELECT coalesce(max(rowid), 0) FROM answers").fetchone()[0]

    def count(self) -> int:
        """How many answers are stored."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM answers").fetchone()[0]

    def files(self) -> dict[str, str]:
        """Each learner's answers as the folder mode's file: {'<learner>.jsonl': its JSON lines}."""
        by_learner: dict[str, list[str]] = {}
        with self._lock:
            for learner, record in self._db.execute("SELECT learner, record FROM answers ORDER BY rowid"):
                by_learner.setdefault(learner, []).append(record)
        return {
            file_name(learner): "".join(line + "\n" for line in lines) for learner, lines in sorted(by_learner.items())
        }

    def export(self, folder: str | Path) -> list[Path]:
        """Write one <learner>.jsonl per learner into folder, as `python -m quiz report DIR` reads; the files."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.files().items():
            path = folder / name
            spare = path.with_name(f".{path.name}.{os.getpid()}")
            spare.write_text(text, encoding="utf-8")
            os.replace(spare, path)  # a reader sees the old file or the new one, never half of one
            written.append(path)
        return written

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _line(record: dict[str, Any]) -> str:
    """The record as one compact JSON line, as answer_writer writes it."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
