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

Successive halving and Hyperband (``halving``) keep a trial's rungs in its
row (``rung``, ``epochs_trained``, ``rungs`` as JSON, each saved as the rung
finishes), the promotions in a table of their own, and a Builder trial's
checkpoint after each rung in a folder next to the file (``checkpoint_dir``),
each written atomically before the rung's row: a stored rung always has its
checkpoint.  A store written before rungs existed opens as it is (the columns
are added, empty).

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
CREATE TABLE IF NOT EXISTS promotions (
    id          TEXT NOT NULL,
    rung        INTEGER NOT NULL,
    promoted_at REAL,
    PRIMARY KEY (id, rung)
);
"""

# Columns added for successive halving, in stores written before them too.
_RUNG_COLUMNS = {"rung": "INTEGER", "epochs_trained": "INTEGER", "rungs": "TEXT"}

_COLUMNS = ("id", "params", "status", "metrics", "epochs", "seconds", "error", "traceback", "history",
            *_RUNG_COLUMNS)
_JSON = ("params", "metrics", "history", "rungs")


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
            if fmt == _FORMAT:
                have = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
                with self._db:
                    for name, kind in _RUNG_COLUMNS.items():
                        if name not in have:
                            self._db.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")
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
               None if trial.history is None else json.dumps(trial.history), trial.rung,
               trial.epochs_trained, None if trial.rungs is None else json.dumps(trial.rungs), time.time())
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

    # -- successive halving ------------------------------------------------
    def promote(self, trial_ids, rung):
        """Record that ``trial_ids`` go on from ``rung`` to the next rung."""
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO promotions VALUES (?, ?, ?)",
                                 [(trial_id, rung, time.time()) for trial_id in trial_ids])

    def promotions(self):
        """``{rung: [trial ids promoted from it, in the order they were]}``."""
        out = {}
        for trial_id, rung in self._db.execute("SELECT id, rung FROM promotions ORDER BY rowid"):
            out.setdefault(rung, []).append(trial_id)
        return out

    @property
    def checkpoint_dir(self):
        """Where the checkpoints of this store's trials live: ``<path>.checkpoints``
        (None in memory, where the caller keeps them)."""
        return None if self.path is None else self.path + ".checkpoints"

    def checkpoint_path(self, trial_id, epochs):
        return os.path.join(self.checkpoint_dir, f"{trial_id}-epoch{epochs}.fastnn")

    def save_checkpoint(self, trial_id, epochs, data):
        """Write a trial's checkpoint after ``epochs`` epochs, atomically."""
        from fastnn.serialization import atomic_write

        os.makedirs(self.checkpoint_dir, exist_ok=True)
        atomic_write(self.checkpoint_path(trial_id, epochs), lambda f: f.write(data), "TrialStore")

    def read_checkpoint(self, trial_id, epochs):
        path = self.checkpoint_path(trial_id, epochs)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"the store {self.path} records trial {trial_id} after {epochs} epochs, "
                                    f"but its checkpoint {path} is missing: it cannot continue that trial "
                                    f"(use a new storage file to start over)") from None

    def drop_checkpoint(self, trial_id, epochs):
        try:
            os.remove(self.checkpoint_path(trial_id, epochs))
        except FileNotFoundError:
            pass

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _trial(row):
    data = dict(zip(_COLUMNS, row))
    for key in _JSON:
        if data[key] is not None:
            data[key] = json.loads(data[key])
    data["seconds"] = data["seconds"] or 0.0
    return Trial(**data)
