"""Search strategies: which configurations to try, in what order.

- ``RandomSearch``: each trial draws every hyperparameter from its space.
  The default choice: with the same budget it tries as many distinct values
  of the one hyperparameter that matters as there are trials, where a grid
  tries only the grid's side.
- ``GridSearch``: every combination of given lists of values.
- ``CoarseToFine``: rounds of random search, each in the region around the
  best trials so far, narrowed in every dimension's own scale.

Design: a strategy only *plans* trials, as ``(trial_id, params)`` pairs, and
hands each batch to ``Search.run``, which skips those already in the store,
sends the rest to a runner and stores each outcome as it arrives.  A trial's
params depend on nothing but the seed and its id (its own generator is
seeded with ``[seed, round, index]``), so a restarted search plans the same
ids with the same params whatever ran before or in parallel, and coarse-to-fine
rounds re-derive the same narrowed spaces from the stored results.
"""
import itertools
import sys

import numpy as np

from fastnn import checks
from fastnn.tune.objectives import Builder
from fastnn.tune.results import Result
from fastnn.tune.runners import runner_for, usable_cores
from fastnn.tune.spaces import Choice, check_space, sample_params, space_spec
from fastnn.tune.store import TrialStore

__all__ = ["Search", "RandomSearch", "GridSearch", "CoarseToFine"]


class Search:
    """What every strategy shares: objective, store, runner, metric.

    objective: ``params -> dict of metrics``; with ``train=(X, y)`` and
        ``dev=(X_dev, y_dev)`` it is a builder ``params -> (model, fit_kwargs)``
        instead (see ``tune.Builder``).
    storage: path of the SQLite trial store (None: in memory, nothing kept).
        Run again with the same storage, a search skips every finished trial.
    n_jobs: trials run in parallel in worker processes (caviar); 1 runs them one
        after another in this process; -1 uses every core.
    seed: makes the trials reproducible (None: a fresh seed, kept in the store).
    metric, mode: the metric to optimize and "min" (default) or "max".
    threads_per_trial: fastnn/BLAS threads of each trial (default: cores //
        n_jobs in worker processes; unchanged for n_jobs=1).
    timeout_per_trial: seconds a trial may run (None: no limit).  A trial over
        time is stopped and recorded with status "timeout"; the search goes on.
        Only the end of a process stops a hung trial, so with a timeout the
        trials run in worker processes even for n_jobs=1 (the objective must
        then be picklable); ``fastnn.tune.runners`` says how each runner stops them.
    verbose: print one line per finished trial.
    """

    def __init__(self, space, objective, *, storage=None, n_jobs=1, seed=None, metric="dev_error",
                 mode="min", threads_per_trial=None, timeout_per_trial=None, train=None, dev=None,
                 verbose=False):
        func = type(self).__name__
        self.space = self._check_space(func, space)
        if not callable(objective):
            raise TypeError(f"{func}: objective must be callable (params -> dict of metrics); got {objective!r}")
        if (train is None) != (dev is None):
            raise ValueError(f"{func}: a builder objective needs both train=(X, y) and dev=(X_dev, y_dev)")
        self.objective = objective if train is None else Builder(objective, train, dev)
        if n_jobs is None:
            n_jobs = 1
        self.n_jobs = (usable_cores() if n_jobs == -1
                       else checks.check_int(n_jobs, "n_jobs", func, 1, what="or -1: every core"))
        self.seed = None if seed is None else checks.check_int(seed, "seed", func, 0, what="or None")
        if not isinstance(metric, str) or not metric:
            raise TypeError(f"{func}: metric must be the name of a metric the objective returns; got {metric!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"{func}: mode must be 'min' or 'max'; got {mode!r}")
        self.metric, self.mode = metric, mode
        self.threads_per_trial = (None if threads_per_trial is None
                                  else checks.check_int(threads_per_trial, "threads_per_trial", func, 1))
        self.timeout_per_trial = _check_timeout(func, timeout_per_trial)
        self.storage, self.verbose = storage, verbose

    def _check_space(self, func, space):
        return check_space(func, space)

    # -- what each strategy defines -------------------------------------------
    def _plan(self, run_batch, seed):
        """Plan the trials, run them batch by batch with ``run_batch(planned) ->
        trials``, and return every trial of the search."""
        raise NotImplementedError

    def _options(self):
        """Settings that change which params the trials get (beyond space and seed)."""
        return {}

    # -- running -------------------------------------------------------------------
    def run(self, client=None, *, retry_failed=False):
        """Run the trials not yet in the store and return the Result of all of them.

        client: a ``dask.distributed.Client`` or a scheduler address: run the
            trials on that Dask cluster (n_jobs is then the cluster's business).
        retry_failed: run again the trials stored as failed or timeout.
        """
        with TrialStore(self.storage) as store:
            seed = self._resume(store)
            runner = runner_for(self.objective, self.metric, client=client, n_jobs=self.n_jobs,
                                threads=self.threads_per_trial, timeout=self.timeout_per_trial)
            with runner:
                trials = self._execute(store, runner, seed, retry_failed, client)
        return Result(trials, self.space, self.metric, self.mode)

    def _execute(self, store, runner, seed, retry_failed, client):
        """Every trial of the search, those not in ``store`` run with ``runner``."""
        return self._plan(lambda planned: self._run_batch(store, runner, planned, retry_failed), seed)

    def _description(self, seed):
        return {"strategy": type(self).__name__, "space": space_spec(self.space), "seed": seed,
                "metric": self.metric, "mode": self.mode, **self._options()}

    def _resume(self, store):
        """The seed to use, after checking that the store holds this search (or none)."""
        stored = store.get_search()
        seed = self.seed
        if seed is None:
            seed = stored["seed"] if stored else int(np.random.SeedSequence().entropy)
        mine = self._description(seed)
        if stored is None:
            store.set_search(mine)
        elif stored != mine:
            diff = ", ".join(f"{k}: stored {stored.get(k)!r}, now {mine.get(k)!r}"
                             for k in sorted(set(stored) | set(mine)) if stored.get(k) != mine.get(k))
            raise ValueError(f"{type(self).__name__}: the store {self.storage} holds another search "
                             f"({diff}); use a new storage file, or the same settings to resume it")
        return seed

    def _run_batch(self, store, runner, planned, retry_failed):
        """The trials of ``planned``, in order: the stored ones, then the others run now."""
        done = {t.id: t for t in store.load([trial_id for trial_id, _ in planned])}
        for trial_id, params in planned:
            if trial_id in done and done[trial_id].params != params:
                raise ValueError(f"{type(self).__name__}: trial {trial_id} in {self.storage} has params "
                                 f"{done[trial_id].params}, but this search plans {params}: the store "
                                 f"belongs to another search")
        if retry_failed:
            done = {k: t for k, t in done.items() if t.status not in RETRIED}
        todo = [(trial_id, params, None) for trial_id, params in planned if trial_id not in done]
        for k, trial in enumerate(runner.map(todo), 1):
            store.save(trial)
            done[trial.id] = trial
            if self.verbose:
                self._report(trial, k, len(todo))
        return [done[trial_id] for trial_id, _ in planned]

    def _report(self, trial, k, n):
        value = trial.value(self.metric)
        outcome = trial.error if trial.error is not None else f"{self.metric}={value:.4g}"
        print(f"[{k}/{n}] {trial.id} {trial.status}: {outcome}  {trial.params}  ({trial.seconds:.1f}s)",
              file=sys.stdout, flush=True)

    def __repr__(self):
        return f"<{type(self).__name__} over {list(self.space)}, metric={self.metric!r} ({self.mode})>"


# What run(retry_failed=True) runs again: a trial over time may be fine with
# another timeout, or on a less busy machine.
RETRIED = ("failed", "timeout")


def _check_timeout(func, seconds):
    """``timeout_per_trial`` as float seconds (None: no limit), or a clear error."""
    if seconds is None:
        return None
    return checks.check_number(seconds, "timeout_per_trial", func, 0, low_open=True,
                               what="seconds, or None: no limit")


def trial_rng(seed, round_, index):
    """The generator of trial ``index`` of round (or bracket) ``round_``."""
    return np.random.default_rng([seed, round_, index])


class RandomSearch(Search):
    """``n_trials`` configurations, each hyperparameter drawn from its space.

    >>> space = {"learning_rate": tune.LogUniform(1e-4, 1), "beta": tune.OneMinusLogUniform(0.9, 0.999)}
    >>> result = tune.RandomSearch(space, objective, n_trials=50, seed=0, storage="search.db").run()

    Trial ``t<i>`` is the same for a given seed whatever ``n_trials``: a
    finished search can be extended by running it again with a larger budget.
    """

    def __init__(self, space, objective, n_trials, **kwargs):
        super().__init__(space, objective, **kwargs)
        self.n_trials = checks.check_int(n_trials, "n_trials", type(self).__name__, 1,
                                         what="the budget")

    def _plan(self, run_batch, seed):
        return run_batch([(f"t{i}", sample_params(self.space, trial_rng(seed, 0, i)))
                          for i in range(self.n_trials)])


class GridSearch(Search):
    """Every combination of the given values: ``{"hidden": [50, 100], "lr": [1e-3, 1e-2]}``.

    Values are numbers, strings, booleans or None; ``dist.grid(n)`` gives n
    values evenly spaced in a distribution's own scale (e.g.
    ``tune.LogUniform(1e-4, 1).grid(5)``).  Prefer RandomSearch: a grid spends
    its budget repeating the same few values of each hyperparameter.
    """

    def _check_space(self, func, space):
        if not hasattr(space, "items"):
            raise TypeError(f"{func}: space must be a dict of name -> list of values; got {type(space).__name__}")
        grid = {}
        for name, values in space.items():
            if isinstance(values, Choice):
                values = values.options
            elif not isinstance(values, (list, tuple, range)):
                raise TypeError(f"{func}: space[{name!r}] must be a list of values; got {values!r}.  "
                                f"For a distribution, list its points with .grid(n)")
            if len(values) == 0:
                raise ValueError(f"{func}: space[{name!r}] is an empty list; give at least one value")
            # A Choice checks and normalizes the values and tells the results
            # how to plot them.
            grid[name] = Choice(values)
        return check_space(func, grid)

    def _plan(self, run_batch, seed):
        names = list(self.space)
        combos = itertools.product(*(self.space[name].options for name in names))
        return run_batch([(f"t{i}", dict(zip(names, combo))) for i, combo in enumerate(combos)])


class CoarseToFine(Search):
    """Rounds of random search, each zoomed in on the best trials so far.

    Each round samples ``n_trials_per_round`` configurations; then the ``keep``
    best trials so far (default: a quarter of a round) define the next space:
    in each dimension's own scale (log10 x for LogUniform, log10(1 - x) for
    OneMinusLogUniform, x otherwise; integers rounded outward), the range
    from the smallest to the largest kept value, widened on each side by half
    the typical spacing of a round's samples (width / n_trials_per_round ** (1/d)
    / 2 for d hyperparameters), never beyond the previous range; a Choice keeps
    the options of the kept trials.  ``round_spaces`` holds each round's space
    after ``run()``.  Budget: ``n_trials_per_round * rounds`` trials.
    """

    def __init__(self, space, objective, n_trials_per_round, rounds, keep=None, **kwargs):
        super().__init__(space, objective, **kwargs)
        func = type(self).__name__
        self.n_trials_per_round = checks.check_int(n_trials_per_round, "n_trials_per_round", func, 1,
                                                   what="the budget of a round")
        self.rounds = checks.check_int(rounds, "rounds", func, 1)
        if keep is None:
            keep = max(1, self.n_trials_per_round // 4)
        self.keep = checks.check_int(keep, "keep", func, 1)
        if self.keep > self.n_trials_per_round:
            raise ValueError(f"{func}: keep ({self.keep}) cannot exceed n_trials_per_round "
                             f"({self.n_trials_per_round})")
        self.round_spaces = []

    def _options(self):
        return {"n_trials_per_round": self.n_trials_per_round, "keep": self.keep}

    def _plan(self, run_batch, seed):
        space, trials, self.round_spaces = self.space, [], []
        for r in range(self.rounds):
            self.round_spaces.append(space)
            trials += run_batch([(f"r{r}-t{i}", sample_params(space, trial_rng(seed, r, i)))
                                 for i in range(self.n_trials_per_round)])
            space = self._narrow(space, trials)
            if self.verbose and r + 1 < self.rounds:
                print(f"round {r + 1}: {space}", flush=True)
        return trials

    def _narrow(self, space, trials):
        ranked = Result(trials, space, self.metric, self.mode).ranked()
        best = [t for t in ranked[:self.keep] if t.status == "ok"]
        if not best:  # nothing finished ok: nothing to zoom in on
            return space
        pad = 0.5 / self.n_trials_per_round ** (1.0 / len(space))
        return {name: dist.around([t.params[name] for t in best], pad) for name, dist in space.items()}
