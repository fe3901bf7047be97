"""Successive halving and Hyperband: stop the bad trials early.

Most random configurations are visibly worse after a few epochs.  Successive
halving trains ``n_trials`` configurations for ``min_epochs`` epochs (rung 0),
keeps the best ``1/eta`` of them, trains those to ``min_epochs * eta``
epochs (rung 1), keeps the best ``1/eta`` again, and so on up to
``max_epochs``.  Hyperband runs several such brackets, from many trials
started small to a few trained at full budget from the start, as a hedge
against a metric that says little after few epochs.

Design:
- A trial is trained rung by rung: each rung is one task for the search's
  runner (``objectives.evaluate`` with a budget).  A Builder trial promoted
  to the next rung continues from its checkpoint (the model file written by
  ``model.save``, with the optimizer's state, the counters and the RNG of
  shuffling), so it trains ``r_{k+1} - r_k`` more epochs; a function
  objective ``objective(params, epochs)`` is told the rung's total and
  trains it from the start (its ``epochs_trained`` counts every run).
- Synchronous (``n_jobs=1`` in this process): a rung runs to its end, then
  its ``n_k // eta`` best ok trials are promoted (ties: the earliest trial).
  Same seed, same trials, same decisions.
- Asynchronous (``n_jobs > 1``, or on Dask), as ASHA: after each result at
  rung k, every trial in the top ``c // eta`` of the ``c`` results completed
  at rung k so far that is ok and not yet promoted is promoted at once
  (ties: the earlier result).  A worker that frees up takes a promotion if
  one is waiting (the latest first), else the next new trial; no worker
  waits for a rung to fill.  A trial once promoted stays promoted, so more
  trials may reach a rung than synchronously.  Deterministic: the trials'
  params and, given the order in which results arrive, every decision; the
  order itself depends on the workers' timing.
- Hyperband's brackets share the runner: their new trials queue up bracket
  after bracket (the most aggressive first) and promotions go ahead of them;
  synchronously, one bracket after another.
- The coordinator alone writes the store and the checkpoints (workers send
  a checkpoint's bytes back with the rung's outcome), so a Dask worker on
  another machine needs no shared file system.  Checkpoints live in
  ``<storage>.checkpoints/`` (``<trial>-epoch<e>.fastnn``, written atomically
  before the rung's row; the earlier one is removed once the rung is
  stored; each trial's last one is kept after the search: the survivors'
  trained models); in memory for a search without storage.
- Resuming (same storage): every stored rung and promotion is kept; a
  trial continues from the checkpoint of its last stored rung.  A search
  killed with SIGKILL re-runs only the rungs that were running.
"""
import sys
from collections import deque

from fastnn import checks
from fastnn.tune.objectives import Builder
from fastnn.tune.results import Result, Trial
from fastnn.tune.spaces import sample_params
from fastnn.tune.strategies import RETRIED, Search, trial_rng

__all__ = ["SuccessiveHalving", "Hyperband", "hyperband_brackets"]


class _Halving(Search):
    """What SuccessiveHalving and Hyperband share: rungs, promotions, checkpoints."""

    def __init__(self, space, objective, *, min_epochs=1, max_epochs=None, eta=3, asynchronous=None,
                 **kwargs):
        super().__init__(space, objective, **kwargs)
        func = type(self).__name__
        self.eta = checks.check_int(eta, "eta", func, 2, what="the factor between rungs")
        self.min_epochs = checks.check_int(min_epochs, "min_epochs", func, 1, what="the first rung's epochs")
        if max_epochs is None:
            raise TypeError(f"{func}: max_epochs is required (the epochs of the last rung, "
                            f"min_epochs * eta**k)")
        self.max_epochs = checks.check_int(max_epochs, "max_epochs", func, 1, what="the last rung's epochs")
        if self.min_epochs > self.max_epochs:
            raise ValueError(f"{func}: min_epochs ({self.min_epochs}) cannot exceed max_epochs "
                             f"({self.max_epochs})")
        self.top_rung = _exponent(func, self.min_epochs, self.max_epochs, self.eta)
        if asynchronous not in (None, True, False):
            raise TypeError(f"{func}: asynchronous must be None (asynchronous with n_jobs > 1 or a "
                            f"Dask client), True or False; got {asynchronous!r}")
        self.asynchronous = asynchronous

    def _options(self):
        return {"min_epochs": self.min_epochs, "max_epochs": self.max_epochs, "eta": self.eta}

    def brackets(self):
        """``[(s, n, budgets)]``: each bracket's index, trials and rung epochs."""
        raise NotImplementedError

    def _execute(self, store, runner, seed, retry_failed, client):
        asynchronous = self.asynchronous
        if asynchronous is None:
            asynchronous = client is not None or self.n_jobs > 1
        schedule = _Schedule(self, store, seed, retry_failed)
        if asynchronous:
            schedule.run_async(runner)
        else:
            schedule.run_sync(runner)
        return schedule.trials()


class SuccessiveHalving(_Halving):
    """``n_trials`` random configurations trained in rungs of ``min_epochs * eta**k``
    epochs up to ``max_epochs``, the best ``1/eta`` of each rung going on.

    >>> sh = tune.SuccessiveHalving(space, objective, n_trials=27, min_epochs=1, max_epochs=27, eta=3,
    ...                             seed=0, storage="search.db", n_jobs=2)
    >>> result = sh.run()     # result.best, result.trials (each with .rung), result.total_epochs

    objective: a ``tune.Builder`` (or a builder with ``train=``/``dev=``),
        whose promoted trials continue from their checkpoints, or a function
        ``objective(params, epochs) -> dict of metrics`` that trains ``epochs``
        epochs (and, if it reports ``"epochs"``, reports that number).
    asynchronous: None (default) promotes as ASHA does with ``n_jobs > 1`` or
        a Dask client, and rung by rung otherwise; True or False forces it.
    The other arguments are those of ``RandomSearch``.  Trial ``t<i>`` has the
    params RandomSearch's ``t<i>`` has for the same seed.
    """

    def __init__(self, space, objective, n_trials, min_epochs=1, max_epochs=None, eta=3, **kwargs):
        super().__init__(space, objective, min_epochs=min_epochs, max_epochs=max_epochs, eta=eta, **kwargs)
        func = type(self).__name__
        self.n_trials = checks.check_int(n_trials, "n_trials", func, 1, what="the trials of the first rung")
        last = self.eta ** self.top_rung
        if self.n_trials < last:
            raise ValueError(f"{func}: n_trials ({self.n_trials}) is too small for {self.top_rung + 1} rungs "
                             f"with eta={self.eta}: the last rung keeps n_trials // {self.eta}**{self.top_rung}"
                             f" trials, so n_trials must be at least {last} (or raise min_epochs)")

    def _options(self):
        return {**super()._options(), "n_trials": self.n_trials}

    def brackets(self):
        return [(0, self.n_trials, _budgets(self.min_epochs, self.eta, self.top_rung))]


class Hyperband(_Halving):
    """Hyperband (Li et al., 2018): brackets of successive halving, from many
    trials started at ``min_epochs`` to a few trained ``max_epochs`` from the start.

    >>> hb = tune.Hyperband(space, objective, max_epochs=27, eta=3, seed=0, storage="search.db", n_jobs=2)
    >>> result = hb.run()

    With ``s_max = log_eta(max_epochs / min_epochs)``, bracket ``s`` (from
    ``s_max`` down to 0) starts ``ceil((s_max + 1) / (s + 1) * eta**s)``
    trials at ``max_epochs / eta**s`` epochs (``hyperband_brackets``).
    brackets: how many brackets to run, the most aggressive first (default:
        all ``s_max + 1``); fewer spend less on trials that are never pruned.
    Trials are named ``b<s>-t<i>``.  The other arguments are SuccessiveHalving's.
    """

    def __init__(self, space, objective, max_epochs, eta=3, min_epochs=1, brackets=None, **kwargs):
        super().__init__(space, objective, min_epochs=min_epochs, max_epochs=max_epochs, eta=eta, **kwargs)
        every = self.top_rung + 1
        self.n_brackets = (every if brackets is None else
                           checks.check_int(brackets, "brackets", type(self).__name__, 1,
                                            what=f"at most {every} here"))
        if self.n_brackets > every:
            raise ValueError(f"{type(self).__name__}: brackets ({self.n_brackets}) cannot exceed "
                             f"log_{self.eta}(max_epochs / min_epochs) + 1 = {every}")

    def _options(self):
        return {**super()._options(), "brackets": self.n_brackets}

    def brackets(self):
        return hyperband_brackets(self.min_epochs, self.max_epochs, self.eta)[:self.n_brackets]


def hyperband_brackets(min_epochs, max_epochs, eta):
    """``[(s, n, budgets)]`` for every Hyperband bracket, s = s_max first:
    ``n`` trials start, rung i trains ``n // eta**i`` of them to ``budgets[i]`` epochs."""
    s_max = _exponent("hyperband_brackets", min_epochs, max_epochs, eta)
    out = []
    for s in range(s_max, -1, -1):
        n = -(-(s_max + 1) * eta ** s // (s + 1))  # ceil((s_max + 1) / (s + 1) * eta**s), exactly
        out.append((s, n, _budgets(max_epochs // eta ** s, eta, s)))
    return out


def _exponent(func, min_epochs, max_epochs, eta):
    """k with max_epochs == min_epochs * eta**k, or a clear error."""
    k, epochs = 0, min_epochs
    while epochs < max_epochs:
        k, epochs = k + 1, epochs * eta
    if epochs != max_epochs:
        below = epochs // eta
        options = f"{below} or {epochs}" if below >= min_epochs else f"{epochs}"
        raise ValueError(f"{func}: max_epochs ({max_epochs}) must be min_epochs * eta**k, the rungs being "
                         f"at {', '.join(str(min_epochs * eta ** i) for i in range(k + 1))} epochs "
                         f"(min_epochs={min_epochs}, eta={eta}); use max_epochs={options}")
    return k


def _budgets(first, eta, top):
    return [first * eta ** i for i in range(top + 1)]


class _Bracket:
    """One bracket's trials and what became of them, rung by rung."""

    def __init__(self, s, n, budgets, prefix, space, seed, eta):
        self.budgets, self.eta = budgets, eta
        self.sizes = [n // eta ** k for k in range(len(budgets))]
        self.ids = [f"{prefix}t{i}" for i in range(n)]
        self.params = {tid: sample_params(space, trial_rng(seed, s, i)) for i, tid in enumerate(self.ids)}
        self.results = [{} for _ in budgets]      # rung -> {trial id: its Trial at that rung}, as completed
        self.promoted = [[] for _ in budgets]     # rung -> trial ids promoted from it, in order

    def entrants(self, k):
        return self.ids if k == 0 else self.promoted[k - 1]


class _Checkpoints:
    """The checkpoints of a search: in the store's folder, or in memory."""

    def __init__(self, store):
        self.store = store
        self.memory = {} if store.checkpoint_dir is None else None

    def save(self, trial_id, epochs, data):
        if self.memory is not None:
            self.memory[trial_id, epochs] = data
        else:
            self.store.save_checkpoint(trial_id, epochs, data)

    def read(self, trial_id, epochs):
        if self.memory is not None:
            return self.memory[trial_id, epochs]
        return self.store.read_checkpoint(trial_id, epochs)

    def drop(self, trial_id, epochs):
        if self.memory is not None:
            self.memory.pop((trial_id, epochs), None)
        else:
            self.store.drop_checkpoint(trial_id, epochs)


class _Schedule:
    """One run of a halving search: the brackets' state, the tasks, the records."""

    def __init__(self, search, store, seed, retry_failed):
        self.search, self.store = search, store
        self.metric, self.mode, self.eta = search.metric, search.mode, search.eta
        self.continues = isinstance(search.objective, Builder)
        self.checkpoints = _Checkpoints(store)
        brackets = search.brackets()
        prefix = "" if isinstance(search, SuccessiveHalving) else "b{}-"
        self.brackets = [_Bracket(s, n, budgets, prefix.format(s), search.space, seed, search.eta)
                         for s, n, budgets in brackets]
        self.aggregate = {}   # trial id -> its Trial as stored (the last rung's outcome)
        self.where = {}       # trial id -> its bracket
        for bracket in self.brackets:
            for tid in bracket.ids:
                self.where[tid] = bracket
        self._load(retry_failed)
        self.done = 0

    # -- the store ---------------------------------------------------------------
    def _load(self, retry_failed):
        func = type(self.search).__name__
        for trial in self.store.load():
            bracket = self.where.get(trial.id)
            if bracket is None or trial.rungs is None:
                raise ValueError(f"{func}: the store {self.search.storage} holds trial {trial.id}, which this "
                                 f"search does not plan: it belongs to another search")
            if trial.params != bracket.params[trial.id]:
                raise ValueError(f"{func}: trial {trial.id} in {self.search.storage} has params "
                                 f"{trial.params}, but this search plans {bracket.params[trial.id]}: the store "
                                 f"belongs to another search")
            rungs = list(trial.rungs)
            if retry_failed and rungs and rungs[-1]["status"] in RETRIED:
                rungs.pop()
            for entry in rungs:
                bracket.results[entry["rung"]][trial.id] = _rung_trial(trial, entry)
            self.aggregate[trial.id] = trial
        for rung, ids in self.store.promotions().items():
            for tid in ids:
                bracket = self.where.get(tid)
                if bracket is not None and rung < len(bracket.budgets) - 1 and tid not in bracket.promoted[rung]:
                    bracket.promoted[rung].append(tid)

    def _record(self, bracket, k, outcome):
        """Store a trial's outcome at rung ``k`` (its checkpoint first)."""
        tid = outcome.id
        epochs = bracket.budgets[k]
        data, outcome.checkpoint = outcome.checkpoint, None
        last = k + 1 == len(bracket.budgets)
        if data is not None and outcome.status == "ok" and not (last and self.checkpoints.memory is not None):
            # (the last rung's model is only kept on disk, for the user: nothing continues from it)
            self.checkpoints.save(tid, epochs, data)
        entry = {"rung": k, "epochs": epochs, "status": outcome.status, "metrics": outcome.metrics,
                 "seconds": outcome.seconds, "epochs_trained": outcome.epochs_trained, "error": outcome.error}
        previous = self.aggregate.get(tid)
        rungs = [e for e in (previous.rungs if previous else []) if e["rung"] < k] + [entry]
        history = outcome.history
        if self.continues and previous is not None and previous.history and k > 0:
            history = {key: previous.history.get(key, []) + values for key, values in (history or {}).items()}
        if previous is not None:  # a failed rung: the epochs and history the trial had
            history = history if history is not None else previous.history
        trial = Trial(id=tid, params=dict(bracket.params[tid]), status=outcome.status, metrics=outcome.metrics,
                      epochs=outcome.epochs if outcome.epochs is not None or previous is None else previous.epochs,
                      seconds=sum(e["seconds"] or 0.0 for e in rungs), error=outcome.error,
                      traceback=outcome.traceback, history=history, rung=k,
                      epochs_trained=sum(e["epochs_trained"] or 0 for e in rungs), rungs=rungs)
        self.store.save(trial)
        if k > 0 and self.continues and outcome.status in ("ok", "diverged"):
            # (a failed or timed-out rung keeps it: run(retry_failed=True) continues from it)
            self.checkpoints.drop(tid, bracket.budgets[k - 1])
        self.aggregate[tid] = trial
        bracket.results[k][tid] = _rung_trial(trial, entry)
        self.done += 1
        if self.search.verbose:
            value = outcome.value(self.metric)
            said = outcome.error if outcome.error is not None else f"{self.metric}={value:.4g}"
            print(f"[{self.done}] {tid} rung {k} ({epochs} epoch{'s' * (epochs != 1)}) {outcome.status}: {said}  "
                  f"{trial.params}  ({outcome.seconds:.1f}s)", file=sys.stdout, flush=True)

    def _promote(self, bracket, k, ids):
        ids = [tid for tid in ids if tid not in bracket.promoted[k]]
        if ids:
            self.store.promote(ids, k)
            bracket.promoted[k] += ids
        return ids

    def _task(self, bracket, k, tid):
        start = bracket.budgets[k - 1] if k > 0 and self.continues else 0
        checkpoint = self.checkpoints.read(tid, start) if start else None
        return (tid, bracket.params[tid], {"rung": k, "epochs": bracket.budgets[k], "start": start,
                                           "checkpoint": checkpoint})

    def _ranked(self, trials):
        return Result(trials, metric=self.metric, mode=self.mode).ranked()

    # -- synchronous -----------------------------------------------------------------
    def run_sync(self, runner):
        for bracket in self.brackets:
            for k in range(len(bracket.budgets)):
                todo = [self._task(bracket, k, tid) for tid in bracket.entrants(k)
                        if tid not in bracket.results[k]]
                for outcome in runner.map(todo):
                    self._record(bracket, k, outcome)
                if k + 1 < len(bracket.budgets):
                    ranked = self._ranked([bracket.results[k][tid] for tid in bracket.entrants(k)])
                    self._promote(bracket, k, [t.id for t in ranked[:bracket.sizes[k + 1]] if t.status == "ok"])

    # -- asynchronous ---------------------------------------------------------------
    def _promotable(self, bracket, k):
        """ASHA's rule: the ok trials in the top c // eta of the c results at rung k, not yet promoted."""
        done = list(bracket.results[k].values())
        top = self._ranked(done)[:len(done) // self.eta]
        return [t.id for t in top if t.status == "ok" and t.id not in bracket.promoted[k]]

    def run_async(self, runner):
        queue, running = deque(), {}
        for bracket in self.brackets:        # what a stopped search had decided, or would have
            for k in range(len(bracket.budgets) - 1):
                self._promote(bracket, k, self._promotable(bracket, k))
        for bracket in self.brackets:
            for k in range(len(bracket.budgets) - 1, 0, -1):
                for tid in bracket.promoted[k - 1]:
                    if tid not in bracket.results[k]:
                        queue.append(self._task(bracket, k, tid))
                        running[tid] = (bracket, k)
        for bracket in self.brackets:
            for tid in bracket.ids:
                if tid not in bracket.results[0]:
                    queue.append(self._task(bracket, 0, tid))
                    running[tid] = (bracket, 0)
        # A runner may end with tasks left in the queue: those promoted by the
        # last results it yielded (a Dask runner has no future left to wait
        # on), or by the trials it re-ran alone after a worker died.
        while queue:
            for outcome in runner.map(queue):
                bracket, k = running.pop(outcome.id)
                self._record(bracket, k, outcome)
                if k + 1 < len(bracket.budgets):
                    for tid in self._promote(bracket, k, self._promotable(bracket, k)):
                        queue.appendleft(self._task(bracket, k + 1, tid))   # before any new trial
                        running[tid] = (bracket, k + 1)

    def trials(self):
        return [self.aggregate[tid] for bracket in self.brackets for tid in bracket.ids if tid in self.aggregate]


def _rung_trial(trial, entry):
    """A trial's outcome at one rung, from its stored rung entry."""
    return Trial(id=trial.id, params=trial.params, status=entry["status"], metrics=dict(entry["metrics"]),
                 epochs=entry["epochs"], seconds=entry["seconds"] or 0.0, error=entry.get("error"),
                 rung=entry["rung"], epochs_trained=entry["epochs_trained"])

