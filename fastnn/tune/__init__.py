"""fastnn.tune: hyperparameter search, the course's way made the easy way.

Random search over grid, rates on a log scale, averaging coefficients with
``1 - beta`` on a log scale, coarse to fine, and many models in parallel
(caviar: worker processes or a Dask cluster) or one babysat model (panda).

```python
from fastnn import tune
space = {"learning_rate": tune.LogUniform(1e-4, 1), "beta": tune.OneMinusLogUniform(0.9, 0.999),
         "hidden": tune.IntUniform(50, 100), "batch_size": tune.Choice([64, 128, 256, 512])}
search = tune.RandomSearch(space, objective, n_trials=50, seed=0, storage="search.db", n_jobs=2)
result = search.run()            # search.run(client=dask_client) on a Dask cluster
result.best.params, result.best.metrics, result.trials
print(result.table(top=10)); result.to_csv("trials.csv"); result.importance(); result.plot("search.png")
```

Successive halving and Hyperband stop bad trials early and spend the epochs
on the promising ones (``tune.SuccessiveHalving``, ``tune.Hyperband``; the
objective is told its budget in epochs).

Modules: ``spaces`` (distributions), ``strategies`` (random, grid,
coarse-to-fine), ``halving`` (successive halving, Hyperband),
``objectives`` (function and builder objectives, one trial's outcome),
``runners`` (in-process, local processes, Dask), ``store``
(SQLite trial store), ``results`` (Trial, Result), ``panda`` (one model
babysat).  Dask, joblib and matplotlib are imported only when used.
"""
from fastnn.tune.halving import Hyperband, SuccessiveHalving, hyperband_brackets
from fastnn.tune.objectives import Builder
from fastnn.tune.panda import Panda
from fastnn.tune.results import Importance, Result, Trial
from fastnn.tune.runners import TrialsLost
from fastnn.tune.spaces import (Choice, Distribution, IntUniform, LogUniform, OneMinusLogUniform,
                                Uniform)
from fastnn.tune.store import TrialStore
from fastnn.tune.strategies import CoarseToFine, GridSearch, RandomSearch, Search

__all__ = [
    "Uniform", "IntUniform", "LogUniform", "OneMinusLogUniform", "Choice", "Distribution",
    "RandomSearch", "GridSearch", "CoarseToFine", "Search", "SuccessiveHalving", "Hyperband",
    "hyperband_brackets",
    "Builder", "Panda", "Trial", "Result", "Importance", "TrialStore", "TrialsLost",
]
