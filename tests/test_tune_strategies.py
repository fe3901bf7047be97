"""Strategies in one process: reproducibility, outcomes of trials, budgets, checks."""
import math
import re

import numpy as np
import pytest

from fastnn import tune
from tune_helpers import BEST_LOG_LR, SPACE, bowl, bowl_with_failures


def summary(result):
    return [(t.id, t.params, t.status, t.metrics) for t in result.trials]


def test_random_search_is_reproducible_with_a_seed():
    a = tune.RandomSearch(SPACE, bowl, n_trials=12, seed=5).run()
    b = tune.RandomSearch(SPACE, bowl, n_trials=12, seed=5).run()
    c = tune.RandomSearch(SPACE, bowl, n_trials=12, seed=6).run()
    assert summary(a) == summary(b)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]
    assert [t.id for t in a.trials] == [f"t{i}" for i in range(12)]
    # A trial's params depend on the seed and its id only: a larger budget extends the search.
    longer = tune.RandomSearch(SPACE, bowl, n_trials=20, seed=5).run()
    assert summary(longer)[:12] == summary(a)


def test_result_best_params_and_metrics():
    result = tune.RandomSearch(SPACE, bowl, n_trials=30, seed=0).run()
    errors = [t.metrics["dev_error"] for t in result.trials]
    assert result.best.metrics["dev_error"] == min(errors)
    assert set(result.best.params) == set(SPACE)
    assert result.best.train_metrics == {"error": result.best.metrics["train_error"]}
    assert result.best.dev_metrics == {"error": result.best.metrics["dev_error"]}
    assert result.best.epochs == 5 and result.best.seconds >= 0
    assert tune.RandomSearch(SPACE, bowl, n_trials=30, seed=0, metric="train_error").run().best.id == result.best.id
    worst = tune.RandomSearch(SPACE, bowl, n_trials=30, seed=0, mode="max").run().best
    assert worst.metrics["dev_error"] == max(errors)


def test_failed_and_diverged_trials_are_recorded_and_the_search_goes_on():
    result = tune.RandomSearch(SPACE, bowl_with_failures, n_trials=40, seed=1).run()
    by_status = {s: [t for t in result.trials if t.status == s] for s in ("ok", "failed", "diverged")}
    assert len(result.trials) == 40 and all(by_status.values())
    for t in by_status["failed"]:
        assert t.params["batch_size"] == 512 and t.params["hidden"] > 80
        assert t.error == f"RuntimeError: out of memory with batch_size=512, hidden={t.params['hidden']}"
        assert "bowl_with_failures" in t.traceback and t.metrics == {}
    for t in by_status["diverged"]:
        assert t.params["learning_rate"] > 0.5 and math.isnan(t.metrics["dev_error"])
    assert result.best.status == "ok"
    ranked = [t.status for t in result.ranked()]
    assert ranked == sorted(ranked, key=["ok", "diverged", "failed"].index)


def test_objective_return_values_are_checked():
    space = {"x": tune.Uniform(0, 1)}
    cases = {
        (lambda p: [p["x"]]): "TypeError: the objective must return a dict of metrics",
        (lambda p: {"loss": p["x"]}): "ValueError: the objective returned no 'dev_error' metric (it returned ['loss'])",
        (lambda p: {"dev_error": "low"}): "TypeError: the objective returned metric 'dev_error' = 'low'",
    }
    for objective, error in cases.items():
        trial = tune.RandomSearch(space, objective, n_trials=1, seed=0).run().trials[0]
        assert trial.status == "failed" and trial.error.startswith(error)
    # A bare number is the metric itself; an infinite one diverged.
    assert tune.RandomSearch(space, lambda p: p["x"], n_trials=1, seed=0).run().best.metrics["dev_error"] >= 0
    assert tune.RandomSearch(space, lambda p: math.inf, n_trials=1, seed=0).run().trials[0].status == "diverged"
    with pytest.raises(ValueError, match=r"no trial finished ok \(\{'diverged': 1\}\)"):
        tune.RandomSearch(space, lambda p: math.inf, n_trials=1, seed=0).run().best


def test_grid_search_tries_every_combination_in_order():
    calls = []

    def objective(params):
        calls.append(params)
        return {"dev_error": params["hidden"] / 100 + params["learning_rate"]}

    grid = {"hidden": [50, 100], "learning_rate": tune.LogUniform(1e-3, 1e-1).grid(3)}
    result = tune.GridSearch(grid, objective).run()
    assert [list(p.values()) for p in calls] == [[h, lr] for h in (50, 100) for lr in (1e-3, 1e-2, 1e-1)]
    assert result.best.params == {"hidden": 50, "learning_rate": 1e-3}
    assert [t.id for t in result.trials] == [f"t{i}" for i in range(6)]


def test_coarse_to_fine_beats_grid_at_equal_budget():
    """A narrow bowl in log10(learning_rate): 36 trials each."""
    space = {"learning_rate": tune.LogUniform(1e-6, 1), "beta": tune.OneMinusLogUniform(0.9, 0.9999)}
    grid = tune.GridSearch({name: dist.grid(6) for name, dist in space.items()}, bowl).run()
    fine = tune.CoarseToFine(space, bowl, n_trials_per_round=9, rounds=4, keep=3, seed=0)
    result = fine.run()
    assert len(grid.trials) == len(result.trials) == 36
    grid_error, fine_error = grid.best.metrics["dev_error"], result.best.metrics["dev_error"]
    assert fine_error < 0.5 * grid_error
    assert abs(math.log10(result.best.params["learning_rate"]) - BEST_LOG_LR) < 0.2
    # Coarse-to-fine matches the whole grid's best before spending the grid's budget.
    running_best = np.minimum.accumulate([t.metrics["dev_error"] for t in result.trials])
    assert np.argmax(running_best <= grid_error) + 1 < len(grid.trials)
    # Each round's learning-rate range lies inside the previous one and is narrower (in decades).
    widths = [math.log10(s["learning_rate"].b / s["learning_rate"].a) for s in fine.round_spaces]
    assert widths[0] == 6 and all(w2 < w1 for w1, w2 in zip(widths, widths[1:]))
    for outer, inner in zip(fine.round_spaces, fine.round_spaces[1:]):
        assert outer["beta"].a <= inner["beta"].a <= inner["beta"].b <= outer["beta"].b
    # Trials of round r are sampled from round r's space.
    for r, s in enumerate(fine.round_spaces):
        for t in result.trials[9 * r:9 * (r + 1)]:
            assert t.id.startswith(f"r{r}-") and s["learning_rate"].a <= t.params["learning_rate"] <= s["learning_rate"].b


def test_coarse_to_fine_narrows_ints_and_choices():
    space = {"hidden": tune.IntUniform(1, 100), "act": tune.Choice(["relu", "tanh", "sigmoid", "linear"])}
    penalty = {"relu": 0, "tanh": 5, "sigmoid": 50, "linear": 80}

    def objective(p):
        return {"dev_error": abs(p["hidden"] - 37) + penalty[p["act"]]}

    fine = tune.CoarseToFine(space, objective, n_trials_per_round=12, rounds=3, keep=3, seed=1)
    result = fine.run()
    last = fine.round_spaces[-1]
    assert isinstance(last["hidden"], tune.IntUniform) and last["hidden"].a <= 37 <= last["hidden"].b
    assert last["hidden"].b - last["hidden"].a < 30
    assert last["act"] == tune.Choice(["relu"])  # only relu among the best three of round 2
    assert result.best.params == {"hidden": 37, "act": "relu"}


@pytest.mark.parametrize("make, error, message", [
    (lambda: tune.RandomSearch({}, bowl, n_trials=3), ValueError, r"RandomSearch: the search space is empty"),
    (lambda: tune.RandomSearch({"lr": (1e-4, 1)}, bowl, n_trials=3), TypeError,
     r"space\['lr'\] must be a tune distribution .* got \(0.0001, 1\)"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=0), ValueError, r"n_trials must be an integer >= 1 \(the budget\); got 0"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=2.5), TypeError, r"n_trials must be an integer >= 1 \(the budget\)"),
    (lambda: tune.RandomSearch(SPACE, "bowl", n_trials=3), TypeError, r"objective must be callable"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=3, n_jobs=0), ValueError, r"n_jobs must be an integer >= 1 \(or -1"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=3, seed=-1), ValueError, r"seed must be an integer >= 0 \(or None\)"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=3, mode="minimize"), ValueError, r"mode must be 'min' or 'max'"),
    (lambda: tune.RandomSearch(SPACE, bowl, n_trials=3, train=([1], [1])), ValueError,
     r"a builder objective needs both train=\(X, y\) and dev=\(X_dev, y_dev\)"),
    (lambda: tune.CoarseToFine(SPACE, bowl, n_trials_per_round=0, rounds=2), ValueError,
     r"n_trials_per_round must be an integer >= 1 \(the budget of a round\)"),
    (lambda: tune.CoarseToFine(SPACE, bowl, n_trials_per_round=5, rounds=0), ValueError, r"rounds must be an integer >= 1"),
    (lambda: tune.CoarseToFine(SPACE, bowl, n_trials_per_round=5, rounds=2, keep=6), ValueError,
     r"keep \(6\) cannot exceed n_trials_per_round \(5\)"),
    (lambda: tune.GridSearch({"hidden": []}, bowl), ValueError, r"GridSearch: space\['hidden'\] is an empty list"),
    (lambda: tune.GridSearch({"lr": tune.LogUniform(1e-4, 1)}, bowl), TypeError,
     r"space\['lr'\] must be a list of values.*\.grid\(n\)"),
    (lambda: tune.GridSearch({}, bowl), ValueError, r"GridSearch: the search space is empty"),
])
def test_bad_searches_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


STRATEGIES = {
    "RandomSearch": lambda **kw: tune.RandomSearch(SPACE, bowl, n_trials=3, **kw),
    "GridSearch": lambda **kw: tune.GridSearch({"x": [1, 2]}, bowl, **kw),
    "CoarseToFine": lambda **kw: tune.CoarseToFine(SPACE, bowl, n_trials_per_round=3, rounds=2, **kw),
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("timeout, error", [
    (0, ValueError), (-5, ValueError), (math.inf, ValueError), (math.nan, ValueError),
    (True, TypeError), ("60", TypeError), ([60], TypeError),
])
def test_timeout_per_trial_must_be_a_positive_number_of_seconds(strategy, timeout, error):
    with pytest.raises(error, match=rf"{strategy}: timeout_per_trial must be a (finite|real) number > 0 "
                                    rf"\(seconds, or None: no limit\); got {re.escape(repr(timeout))}"):
        STRATEGIES[strategy](timeout_per_trial=timeout)
    assert STRATEGIES[strategy](timeout_per_trial=2.5).timeout_per_trial == 2.5
    assert STRATEGIES[strategy](timeout_per_trial=60).timeout_per_trial == 60.0
    assert STRATEGIES[strategy]().timeout_per_trial is None


def test_verbose_prints_one_line_per_trial(capsys):
    tune.RandomSearch(SPACE, bowl_with_failures, n_trials=3, seed=0, verbose=True).run()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("[1/3] t0 ok: dev_error=")


def test_verbose_reports_a_trial_over_time_with_its_reason(capsys):
    search = tune.GridSearch({"x": [0]}, bowl)
    search._report(tune.Trial("t0", {"x": 0}, "timeout", seconds=2.0,
                              error="stopped after timeout_per_trial = 2 s"), 1, 1)
    assert capsys.readouterr().out.startswith("[1/1] t0 timeout: stopped after timeout_per_trial = 2 s")
