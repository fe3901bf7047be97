"""The trial store: one SQLite file per search, one row per finished trial.

Design:
- Only the coordinating process opens the store; workers return their trials
  to it.  One writer means no "database is locked", whatever the number of
  workers or machines.
- Each trial is committed on its own as soon as it finishes (WAL journal), so
  killing the search, even with SIGKILL, loses at most the trials still
  running; a restart skips every trial already in the store.
- The store also holds the search's description (strategy, space, seed,
  metric).  Reopening it with a different search is an error instead of a
  silent mix of two searches' trials, and a search started without a seed
  adopts the stored one so that it resumes with the same trials.

Rows hold params, metrics and history as JSON (NaN and Inf included), so the
file is readable with any SQLite client: ``SELECT id, status, metrics FROM trials``.
"""
import json
import os
import sqlite3
import time

from fastnn.tune.results import Trial
from fastnn.tune.spaces import space_from_spec

__all__ = ["TrialStore"]

_FORMAT = "fastnn.tune trial store 1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id          TEXT PRIMARY KEY,
    params      TEXT NOT NULL,
    status      TEXT NOT NULL,
    metrics     TEXT NOT NULL,
    epochs      INTEGER,
    seconds     REAL,
    error       TEXT,
    traceback   TEXT,
    history     TEXT,
    finished_at REAL
);
"""

_COLUMNS = ("id", "params", "status", "metrics", "epochs", "seconds", "error", "traceback", "history")


class TrialStore:
    """A search's trials in the SQLite file ``path`` (in memory when ``path`` is None)."""

    def __init__(self, path=None, must_exist=False):
        self.path = None if path is None else os.fspath(path)
        if must_exist and (self.path is None or not os.path.exists(self.path)):
            raise FileNotFoundError(f"no trial store at {self.path!r}")
        try:
            self._db = sqlite3.connect(self.path or ":memory:", timeout=60)
            if self.path is not None:
                # WAL: each commit is one append, readers never block the writer;
                # NORMAL sync survives the process being killed (not a power cut,
                # which can at worst lose the last trials, to be re-run).
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (json.dumps(_FORMAT),))
            fmt = self._meta("format")
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a fastnn.tune trial store: {exc}") from None
        if fmt != _FORMAT:
            raise ValueError(f"{self.path} is not a fastnn.tune trial store (format {fmt!r})")

    def _meta(self, key):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_search(self):
        """The stored search description (a dict), or None for a new store."""
        return self._meta("search")

    def set_search(self, description):
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('search', ?)",
                             (json.dumps(description, sort_keys=True),))

    def space(self):
        """The stored search's space (a grid's lists come back as Choices), or None."""
        search = self.get_search()
        return None if search is None else space_from_spec(search["space"])

    def save(self, trial):
        """Record a finished trial (replacing an earlier record of the same id)."""
        row = (trial.id, json.dumps(trial.params), trial.status, json.dumps(trial.metrics),
               trial.epochs, trial.seconds, trial.error, trial.traceback,
               None if trial.history is None else json.dumps(trial.history), time.time())
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO trials ({', '.join(_COLUMNS)}, finished_at) "
                             f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})", row)

    def load(self, ids=None):
        """The stored trials, in the order they finished (only ``ids`` if given)."""
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM trials ORDER BY rowid").fetchall()
        trials = [_trial(row) for row in rows]
        if ids is not None:
            wanted = set(ids)
            trials = [t for t in trials if t.id in wanted]
        return trials

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _trial(row):
    data = dict(zip(_COLUMNS, row))
    for key in ("params", "metrics", "history"):
        if data[key] is not None:
            data[key] = json.loads(data[key])
    data["seconds"] = data["seconds"] or 0.0
    return Trial(**data)
