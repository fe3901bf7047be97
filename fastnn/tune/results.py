"""Trials and what a search returns: the best trial, a ranked table, CSV,
an importance ranking of the hyperparameters and a plot.

Design: a Result is a read-only view over a list of Trials plus the space
they were drawn from (for the scale of each axis); it never runs anything, so
``Result.load(storage)`` can inspect a store while (or after) a search runs.
"""
from __future__ import annotations

import csv
import math
import numbers
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Trial", "Result", "Importance"]


@dataclass
class Trial:
    """One evaluated configuration.

    ``status`` is "ok", "failed" (``error`` holds the exception's text and
    ``traceback`` the traceback), "diverged" (a metric is NaN or Inf) or
    "timeout" (stopped after the search's ``timeout_per_trial``; ``error``
    says so).
    ``metrics`` is every metric the objective returned; ``train_metrics`` and
    ``dev_metrics`` are those named ``train_*`` / ``dev_*``, prefix removed.
    ``epochs``: the epochs the trial's model was trained for.

    Successive halving and Hyperband also fill ``rung`` (the last rung the
    trial reached, 0 the first), ``rungs`` (one dict per rung reached:
    ``{"rung", "epochs", "status", "metrics"}``) and ``epochs_trained`` (the
    epochs of training the trial cost: a Builder trial continues from its
    checkpoint, a function objective trains each rung's budget from the
    start).  Its ``metrics`` are those of its last rung.
    """

    id: str
    params: dict
    status: str
    metrics: dict = field(default_factory=dict)
    epochs: Optional[int] = None
    seconds: float = 0.0
    error: Optional[str] = None
    traceback: Optional[str] = None
    history: Optional[dict] = None
    rung: Optional[int] = None
    epochs_trained: Optional[int] = None
    rungs: Optional[list] = field(default=None, repr=False)
    # A Builder's model at the end of a rung, in its file format, on its way
    # from a worker to the coordinator (which writes it and drops it here).
    checkpoint: Optional[bytes] = field(default=None, repr=False, compare=False)

    @property
    def train_metrics(self):
        return _prefixed(self.metrics, "train_")

    @property
    def dev_metrics(self):
        return _prefixed(self.metrics, "dev_")

    def value(self, metric):
        """The trial's ``metric``, NaN when it has none (failed trials)."""
        return self.metrics.get(metric, math.nan)


def _prefixed(metrics, prefix):
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}


Importance = namedtuple("Importance", "param score correlation")
Importance.__doc__ = """How much one hyperparameter matters to the metric.

score: in [0, 1], the share of the metric's rank variance explained by the
    parameter's value (binned), adjusted for chance, square-rooted: it sees
    bowls (a best learning rate in the middle) as well as trends.
correlation: Spearman rank correlation of the parameter with the metric
    (NaN for categorical parameters): the direction of a trend.
"""

# Ranking of the statuses: a trial that ran over time may be fine, only slow;
# one that failed tells nothing about its configuration's metric.
_STATUS_ORDER = {"ok": 0, "diverged": 1, "timeout": 2, "failed": 3}


def _status_rank(status):
    return _STATUS_ORDER.get(status, len(_STATUS_ORDER))


class Result:
    """The trials of a search, best first where it matters.

    ``best``: the best ok trial.  ``trials``: every finished trial, in the
    order the search planned them.  ``table()``, ``to_csv(path)``,
    ``importance()``, ``plot()``.
    """

    def __init__(self, trials, space=None, metric="dev_error", mode="min"):
        self.trials = list(trials)
        self.space = dict(space or {})
        self.metric = metric
        self.mode = mode

    @classmethod
    def load(cls, storage):
        """The trials recorded so far in a search's store (nothing is run)."""
        from fastnn.tune.store import TrialStore

        with TrialStore(storage, must_exist=True) as store:
            search = store.get_search()
            if search is None:
                raise ValueError(f"Result.load: {storage} holds no search yet")
            return cls(store.load(), store.space(), search["metric"], search["mode"])

    # -- ranking -----------------------------------------------------------
    def _key(self, position_trial):
        position, t = position_trial
        value = t.value(self.metric)
        if t.status != "ok" or math.isnan(value):
            return (_status_rank(t.status), 0, 0.0, position)
        # With rungs, the trials trained longest come first: a pruned trial's
        # metric after fewer epochs does not compete with the survivors'.
        longest = -(t.epochs or 0) if t.rung is not None else 0
        return (0, longest, value if self.mode == "min" else -value, position)

    def ranked(self):
        """The trials best first: ok ones by the metric (with rungs: those
        trained for the most epochs first), then diverged, timeout, failed."""
        return [t for _, t in sorted(enumerate(self.trials), key=self._key)]

    @property
    def best(self):
        """The best ok trial (ties: the earliest planned)."""
        ranked = self.ranked()
        if not ranked or ranked[0].status != "ok":
            counts = self.counts()
            first_error = next((t.error for t in self.trials if t.error), None)
            raise ValueError(f"no trial finished ok ({counts or 'no trials'})"
                             + (f"; first error: {first_error}" if first_error else ""))
        return ranked[0]

    def counts(self):
        """``{"ok": n, "diverged": n, "timeout": n, "failed": n}`` (statuses present only)."""
        out = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return out

    def __len__(self):
        return len(self.trials)

    @property
    def total_epochs(self):
        """Epochs of training the whole search cost: the sum of each trial's
        ``epochs_trained`` (its ``epochs`` for searches without rungs)."""
        return sum(t.epochs_trained if t.epochs_trained is not None else (t.epochs or 0)
                   for t in self.trials)

    def __repr__(self):
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items()) or "none"
        try:
            best = self.best
            tail = f"; best {self.metric}={best.value(self.metric):.4g} at {best.params}"
        except ValueError:
            tail = ""
        return f"<Result: {len(self.trials)} trials ({counts}){tail}>"

    # -- table and CSV -----------------------------------------------------
    def _param_names(self):
        names = list(self.space)
        for t in self.trials:
            names += [p for p in t.params if p not in names]
        return names

    def _metric_names(self):
        names = [self.metric]
        for t in self.trials:
            names += [m for m in t.metrics if m not in names]
        return names

    def rows(self):
        """One dict per trial, best first: rank, id, status, params, metrics, epochs, seconds, error."""
        params, metrics = self._param_names(), self._metric_names()
        rows = []
        for rank, t in enumerate(self.ranked(), 1):
            row = {"rank": rank, "id": t.id, "status": t.status}
            row.update({p: t.params.get(p) for p in params})
            row.update({m: t.metrics.get(m) for m in metrics})
            row.update(epochs=t.epochs, seconds=round(t.seconds, 4), error=t.error)
            if t.rung is not None:
                row.update(rung=t.rung, epochs_trained=t.epochs_trained)
            rows.append(row)
        return rows

    def to_csv(self, path):
        """Write ``rows()`` to ``path`` as CSV (one header line, best trial first)."""
        rows = self.rows()
        header = list(rows[0]) if rows else ["rank", "id", "status", *self._param_names(), self.metric]
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)

    def table(self, top=None):
        """The trials best first as aligned text (the ``top`` first only, if given)."""
        params = self._param_names()
        # Next to the dev metric, its train twin: the gap between them is the variance.
        twin = "train_" + self.metric[len("dev_"):] if self.metric.startswith("dev_") else None
        metrics = [self.metric]
        if twin and any(twin in t.metrics for t in self.trials):
            metrics.append(twin)
        rungs = any(t.rung is not None for t in self.trials)
        header = ["rank", "id", "status", *metrics, *params, *(["rung"] if rungs else []), "epochs", "seconds",
                  "note"]
        lines = []
        for rank, t in enumerate(self.ranked()[:top], 1):
            lines.append([str(rank), t.id, t.status, *(_fmt(t.metrics.get(m)) for m in metrics),
                          *(_fmt(t.params.get(p)) for p in params), *([_fmt(t.rung)] if rungs else []),
                          _fmt(t.epochs), f"{t.seconds:.2f}", (t.error or "")[:60]])
        widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in [header] + lines)

    # -- importance --------------------------------------------------------
    def importance(self, epochs=None):
        """The hyperparameters by how much they matter to the metric, most first.

        Uses the ok trials only.  For each parameter its values are cut into
        about sqrt(n) quantile bins (the options, for Choice) and ``score`` is
        the square root of the share of the metric's rank variance lying
        between bins, minus what chance alone gives (epsilon squared).  Ranks
        make it independent of each parameter's scale and robust to outliers.
        Needs at least 3 ok trials.

        With rungs (successive halving, Hyperband), trials are compared at
        equal budgets: the metric after ``epochs`` epochs, by default the
        rung budget that the most trials reached ok (the first rung, for
        successive halving).
        """
        ok = [t for t in self.trials if t.status == "ok"]
        if any(t.rungs for t in self.trials):
            ok, epochs = _at_budget(self.trials, self.metric, epochs)
        if len(ok) < 3:
            raise ValueError(f"importance needs at least 3 ok trials; this result has {len(ok)}"
                             + (f" at {epochs} epochs" if epochs is not None else ""))
        metric_ranks = _ranks(np.array([t.value(self.metric) for t in ok]))
        out = []
        for name in self._param_names():
            values = [t.params.get(name) for t in ok]
            numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
            groups = _groups(values, numeric, n_bins=max(2, min(10, round(math.sqrt(len(ok))))))
            correlation = (_pearson(_ranks(np.array(values, dtype=np.float64)), metric_ranks)
                           if numeric else math.nan)
            out.append(Importance(name, _epsilon(groups, metric_ranks), correlation))
        return sorted(out, key=lambda i: (-i.score if not math.isnan(i.score) else math.inf))

    def _scale(self, name, values):
        dist = self.space.get(name)
        if dist is not None and dist.scale != "categorical":
            return dist.scale
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            return "categorical"
        # Lists of numbers (Choice, grids): a log axis when they span two decades.
        positive = [v for v in values if v > 0]
        if len(positive) == len(values) and max(positive) >= 100 * min(positive):
            return "log"
        return "categorical" if dist is not None else "linear"

    # -- plot --------------------------------------------------------------
    def plot(self, path=None):
        """The metric against each hyperparameter, one panel each; returns the Figure.

        Log axes for log-scaled parameters; a OneMinusLogUniform parameter is
        shown as 1 - value on a log axis.  The best trial is the red star.
        Saved to ``path`` if given.  Needs matplotlib (``pip install 'fastnn[plot]'``).
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("Result.plot needs matplotlib, which is not installed: "
                              "pip install 'fastnn[plot]'") from None
        ok = [t for t in self.trials if t.status == "ok"]
        names = self._param_names()
        if not ok or not names:
            raise ValueError("Result.plot: no ok trial to plot")
        best = self.best
        ncols = min(3, len(names))
        nrows = math.ceil(len(names) / ncols)
        fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, name in zip(axes, names):
            values = [t.params.get(name) for t in ok]
            scale = self._scale(name, values)
            if scale == "categorical":
                options = getattr(self.space.get(name), "options", None) or list(dict.fromkeys(values))
                position = {repr(o): i for i, o in enumerate(options)}
                x = lambda v: position[repr(v)]  # noqa: E731
                ax.set_xticks(range(len(options)), [_fmt(o) for o in options])
            elif scale == "one_minus_log":
                x = lambda v: 1.0 - v  # noqa: E731
                ax.set_xscale("log")
            else:
                x = lambda v: v  # noqa: E731
                if scale == "log":
                    ax.set_xscale("log")
            ax.scatter([x(v) for v in values], [t.value(self.metric) for t in ok], s=18, alpha=0.7)
            ax.scatter([x(best.params[name])], [best.value(self.metric)], marker="*", s=160,
                       color="red", zorder=3)
            ax.set_xlabel(f"1 - {name}" if scale == "one_minus_log" else name)
            ax.set_ylabel(self.metric)
            ax.grid(True, alpha=0.3)
        for ax in axes[len(names):]:
            ax.set_visible(False)
        counts = self.counts()
        hidden = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=_status_rank) if s != "ok")
        fig.suptitle(f"{self.metric} of {len(ok)} ok trials" + (f" ({hidden} not shown)" if hidden else ""))
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig

    def curves(self):
        """``{trial id: (epochs, values)}``: the metric of each ok or diverged
        trial against its epochs: per epoch when its history has the metric
        (``dev_<m>`` is history's ``val_<m>``; ``dev_error`` is 1 - ``val_accuracy``),
        else at the end of each rung it reached (for searches without rungs:
        its one point)."""
        out = {}
        for t in self.trials:
            if t.status not in ("ok", "diverged"):
                continue
            per_epoch = _per_epoch(t.history or {}, self.metric)
            if per_epoch is not None and len(per_epoch) == t.epochs:
                out[t.id] = (list(range(1, len(per_epoch) + 1)), per_epoch)
            elif t.rungs:
                ok = [r for r in t.rungs if self.metric in r["metrics"]]
                out[t.id] = ([r["epochs"] for r in ok], [r["metrics"][self.metric] for r in ok])
            elif t.epochs is not None and self.metric in t.metrics:
                out[t.id] = ([t.epochs], [t.metrics[self.metric]])
        return out

    def plot_curves(self, path=None):
        """The metric against epochs, one curve per trial; returns the Figure.

        The trials trained for the most epochs are drawn in colour, the best
        one in red; the pruned ones (stopped at a lower rung) in grey, each
        ending in a cross where it was stopped.  Epochs on a log axis when
        they span a factor of 9 or more (rungs grow by eta).  Saved to ``path``
        if given.  Needs matplotlib (``pip install 'fastnn[plot]'``)."""
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("Result.plot_curves needs matplotlib, which is not installed: "
                              "pip install 'fastnn[plot]'") from None
        curves = self.curves()
        if not curves:
            raise ValueError("Result.plot_curves: no ok trial to plot")
        longest = max(x[-1] for x, _ in curves.values())
        best = self.best.id if self.counts().get("ok") else None
        fig = Figure(figsize=(7, 4.5))
        ax = fig.subplots()
        pruned = 0
        for tid, (x, y) in curves.items():
            if tid == best:
                continue
            if x[-1] < longest:
                pruned += 1
                ax.plot(x, y, color="0.6", lw=0.8, alpha=0.8)
                ax.plot(x[-1:], y[-1:], "x", color="0.45", ms=5)
            else:
                ax.plot(x, y, lw=1.3, alpha=0.9, marker="o" if len(x) < 8 else None, ms=3)
        if best is not None and best in curves:
            x, y = curves[best]
            ax.plot(x, y, color="red", lw=2.2, label=f"best ({best})", zorder=3)
            ax.legend(loc="best")
        if longest >= 9 * min(x[0] for x, _ in curves.values()):
            ax.set_xscale("log")
        ax.set_xlabel("epochs")
        ax.set_ylabel(self.metric)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{len(curves)} trials, {pruned} pruned (grey); {self.total_epochs} epochs in all")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def _at_budget(trials, metric, epochs):
    """``(trials as they were after ``epochs`` epochs, epochs)``: the ok rung
    outcomes at that budget (default: the budget most trials reached ok)."""
    at = {}
    for t in trials:
        for r in t.rungs or []:
            if r["status"] == "ok" and metric in r["metrics"]:
                at.setdefault(r["epochs"], []).append(
                    Trial(id=t.id, params=t.params, status="ok", metrics=r["metrics"], epochs=r["epochs"]))
    if epochs is None:
        if not at:
            return [], None
        epochs = max(at, key=lambda e: (len(at[e]), e))
    return at.get(epochs, []), epochs


def _per_epoch(history, metric):
    """The per-epoch values of ``metric`` in a trial's history, or None."""
    if not metric.startswith("dev_"):
        return history.get(metric)
    name = metric[len("dev_"):]
    if "val_" + name in history:
        return history["val_" + name]
    if name == "error" and "val_accuracy" in history:
        return [1.0 - a for a in history["val_accuracy"]]
    return None


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _ranks(x):
    """Ranks 1..n of ``x``, ties sharing their average rank."""
    _, inverse, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True,
                                   return_counts=True)
    # A value seen c times occupies the c ranks ending at its cumulative count.
    return (np.cumsum(counts) - (counts - 1) / 2)[inverse]


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denom if denom > 0 else 0.0


def _groups(values, numeric, n_bins):
    """A group label per value: the value itself, or its quantile bin."""
    distinct = {key: i for i, key in enumerate(dict.fromkeys(repr(v) for v in values))}
    if not numeric or len(distinct) <= n_bins:
        return np.array([distinct[repr(v)] for v in values])
    ranks = _ranks(np.array(values, dtype=np.float64))
    return np.minimum(((ranks - 1) * n_bins / len(values)).astype(int), n_bins - 1)


def _epsilon(groups, y):
    """sqrt of epsilon squared: the between-group share of y's variance beyond chance."""
    labels = np.unique(groups)
    n, g = len(y), len(labels)
    total = float(((y - y.mean()) ** 2).sum())
    if g < 2 or total == 0:
        return 0.0
    if n <= g:
        return math.nan
    between = sum(float((groups == k).sum()) * (y[groups == k].mean() - y.mean()) ** 2 for k in labels)
    within = total - between
    eps2 = (between - (g - 1) * within / (n - g)) / total
    return math.sqrt(min(1.0, max(0.0, eps2)))
