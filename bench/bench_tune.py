"""caviar (trials in parallel worker processes) against panda (one model at a time).

Every trial trains the same small CPU-bound model: each epoch is a fixed
NumPy loop (GEMMs and tanh on a 256 x 256 array), so trials cost the same
whatever their params and the comparison measures the runners alone.
Threads per trial = 1 on both sides: panda sets 1 thread in this process,
caviar runs ``n_jobs`` workers with 1 thread each.

- panda: each configuration babysat in turn with ``tune.Panda`` (epoch by
  epoch, metrics after each), in this process;
- sequential search: ``RandomSearch(n_jobs=1)``, the same trials in this process;
- caviar: ``RandomSearch(n_jobs=2)``, two worker processes.

Wall times include everything (caviar: starting its worker processes), the
best of ``--repeat`` alternated runs.  Other processes on the machine skew
the ratio, so each run also measures the share of the cores that other
processes used meanwhile ("foreign CPU", from /proc/stat minus this
process tree's CPU time); runs where it exceeds 5% are used only if no run
is cleaner, and ``--wait-quiet`` waits for idle cores before each run.

    python bench/bench_tune.py                 # 40 trials of about 0.5 s each
    python bench/bench_tune.py --repeat 3 --wait-quiet
"""
import argparse
import math
import os
import resource
import sys
import time

import numpy as np

import fastnn
from fastnn import tune


class WorkModel:
    """A stand-in model whose epoch is a fixed amount of single-threaded work."""

    def __init__(self, learning_rate, hidden, steps):
        self.learning_rate, self.hidden, self.steps = learning_rate, hidden, steps
        self.optimizer = self  # Panda looks for .optimizer.learning_rate
        self.a = np.random.default_rng(hidden).standard_normal((256, 256))

    def _epoch(self):
        for _ in range(self.steps):
            self.a = np.tanh(self.a @ self.a.T / 256.0) + 1e-3 * self.learning_rate

    def fit(self, X, y, epochs=1, validation_data=None):
        history = {"loss": [], "val_loss": []}
        for _ in range(epochs):
            self._epoch()
            loss = float(np.abs(self.a).mean())
            history["loss"].append(loss)
            history["val_loss"].append(loss * 1.1)
        return history

    def evaluate(self, X, y):
        loss = float(np.abs(self.a).mean())
        return {"loss": loss, "accuracy": math.exp(-loss)}


def build(params):
    model = WorkModel(params["learning_rate"], params["hidden"], params["steps"])
    return model, {"epochs": params["epochs"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=80, help="GEMM+tanh steps per epoch")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="alternate the runners this many times, keep the best")
    parser.add_argument("--wait-quiet", action="store_true", help="before each run, wait for idle cores")
    args = parser.parse_args(argv)

    data = (np.zeros((4, 1)), np.zeros(4))
    builder = tune.Builder(build, data, data)
    space = {"learning_rate": tune.LogUniform(1e-4, 1), "hidden": tune.IntUniform(50, 100),
             "steps": tune.Choice([args.steps]), "epochs": tune.Choice([args.epochs])}

    print(f"fastnn {fastnn.__version__}, {os.cpu_count()} cores (usable: {tune.runners.usable_cores()}), "
          f"Python {sys.version.split()[0]}, NumPy {np.__version__}, load average {_load()}")
    print(f"{args.trials} trials x {args.epochs} epochs x {args.steps} steps of (256x256 GEMM + tanh), "
          f"1 thread per trial")

    def search(**kwargs):
        return tune.RandomSearch(space, builder, n_trials=args.trials, seed=0, threads_per_trial=1, **kwargs)

    def sequential():
        return search().run().trials

    def panda():
        fastnn.set_num_threads(1)
        for params in (t.params for t in configurations):  # the very same configurations
            tune.Panda.from_builder(builder, params, verbose=False).train()

    def caviar():
        result = search(n_jobs=args.jobs).run()
        assert result.counts() == {"ok": args.trials}, result.counts()

    configurations = sequential()
    runners = {"panda (Panda, one at a time)": panda, "sequential search (n_jobs=1)": sequential,
               f"caviar (n_jobs={args.jobs})": caviar}
    # Best run per runner among those the rest of the machine left alone
    # (foreign CPU use under 5% of the cores), else the best of all.
    runs = {name: [] for name in runners}
    for _ in range(args.repeat):
        for name, run in runners.items():
            if args.wait_quiet:
                _wait_quiet()
            runs[name].append(_timed(run))
    best = {name: min([r for r in rs if r[1] < 0.05] or rs) for name, rs in runs.items()}

    rate = {name: 60 * args.trials / seconds for name, (seconds, _) in best.items()}
    print(f"{'runner':<32}{'wall s':>8}{'trials/min':>12}{'foreign CPU':>13}")
    for name in runners:
        seconds, foreign = best[name]
        print(f"{name:<32}{seconds:8.2f}{rate[name]:12.1f}{foreign:12.0%}")
    panda_rate, sequential_rate, caviar_rate = rate.values()
    print(f"caviar / panda: {caviar_rate / panda_rate:.2f}x   caviar / sequential search: "
          f"{caviar_rate / sequential_rate:.2f}x   (target >= 1.8x; load average now {_load()})")
    return caviar_rate / panda_rate


def _cpu_seconds():
    """(CPU seconds the whole machine was busy, CPU seconds of this process and its
    reaped children, caviar's workers included); NaN where /proc/stat is missing."""
    own = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return math.nan, own
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), own


def _timed(run):
    """(wall seconds of run(), share of the cores used meanwhile by other processes)."""
    busy, own = _cpu_seconds()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    busy_after, own_after = _cpu_seconds()
    foreign = max(0.0, (busy_after - busy) - (own_after - own)) / (wall * tune.runners.usable_cores())
    return wall, foreign


def _wait_quiet(idle=0.9, window=2.0):
    """Wait until the cores have been at least ``idle`` idle for ``window`` seconds."""
    while True:
        busy, _ = _cpu_seconds()
        time.sleep(window)
        busy_after, _ = _cpu_seconds()
        if math.isnan(busy) or (busy_after - busy) / (window * (os.cpu_count() or 1)) <= 1 - idle:
            return


def _load():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"

if __name__ == "__main__":
    main()
