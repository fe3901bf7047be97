"""Hyperband against random search at full budget, on an MNIST subset.

10,000 training rows and 5,000 dev rows of MNIST (the next rows of the
training set), a 784-H-10 network trained with Adam; the space is the
course's: learning rate on a log scale, beta1 with 1 - beta1 on a log scale,
the hidden units and the mini-batch size.  For each seed:

- random: ``RandomSearch``, 27 trials of 27 epochs each (729 epochs);
- hyperband: ``Hyperband(max_epochs=27, eta=3)``, all four brackets
  (27, 12, 6 and 4 trials started at 1, 3, 9 and 27 epochs);
- the same with synchronous rungs (``asynchronous=False``: each rung fills
  before its best go on; exactly the paper's rung sizes);
- hyperband, 2 brackets: its two most aggressive brackets (``brackets=2``);
- halving: ``SuccessiveHalving(n_trials=27, max_epochs=27, eta=3)``;
- optuna (if installed; not a dependency of fastnn): a study with
  RandomSampler and HyperbandPruner(min_resource=1, max_resource=27,
  reduction_factor=3), each trial reporting the dev accuracy after every
  epoch, as many trials as Hyperband starts (49).

Reported per method: the dev accuracy of the best trial trained to 27
epochs (the best ok trial for the fastnn searches; Optuna's best completed
trial), the epochs trained in all, and the wall time.  The fastnn searches
run with ``--n-jobs`` worker processes (asynchronous promotions for the
halving ones), one thread each; Optuna runs one trial at a time in this
process with ``--n-jobs`` threads.

    python bench/hyperband_mnist.py                    # seed 0, n_jobs=2
    python bench/hyperband_mnist.py --seeds 0 1 2      # one table per seed, then the means
    python bench/hyperband_mnist.py --quick            # 2,000/1,000 rows, max_epochs=9: a smoke run
"""
import argparse
import os
import sys
import time

import numpy as np

import fastnn as fn
from fastnn import tune

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist.npz")

SPACE = {
    "learning_rate": tune.LogUniform(1e-4, 1e-1),
    "beta1": tune.OneMinusLogUniform(0.8, 0.999),
    "hidden": tune.IntUniform(32, 256),
    "batch_size": tune.Choice([32, 64, 128, 256]),
}


def load(path, n_train, n_dev):
    with np.load(path) as data:
        X, y = data["x_train"], data["y_train"]
    X = X.reshape(len(X), -1).astype(np.float32) / 255.0
    y = y.astype(np.int64)
    return (X[:n_train], y[:n_train]), (X[n_train:n_train + n_dev], y[n_train:n_train + n_dev])


def model_for(params):
    return fn.Sequential([fn.Dense(int(params["hidden"]), "relu"), fn.Dense(10, "softmax")],
                         input_dim=784, seed=0)


def optimizer_for(params):
    return fn.Adam(params["learning_rate"], beta1=params["beta1"])


class Build:
    """The trials' builder: (model, fit_kwargs); ``epochs`` for random search
    (successive halving sets each rung's own)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, params):
        return model_for(params), {"optimizer": optimizer_for(params), "batch_size": int(params["batch_size"]),
                                   "epochs": self.epochs, "verbose": 0}


def fastnn_run(name, search, max_epochs):
    start = time.perf_counter()
    result = search.run()
    seconds = time.perf_counter() - start
    full = [t for t in result.trials if t.status == "ok" and t.epochs == max_epochs]
    best = max(full, key=lambda t: t.metrics["dev_accuracy"])
    return {"method": name, "trials": len(result.trials), "full": len(full),
            "dev_accuracy": best.metrics["dev_accuracy"], "epochs": result.total_epochs, "seconds": seconds}


def optuna_run(train, dev, n_trials, max_epochs, eta, seed, threads):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trained = [0]

    def objective(trial):
        params = {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
                  "one_minus_beta1": trial.suggest_float("one_minus_beta1", 1e-3, 0.2, log=True),
                  "hidden": trial.suggest_int("hidden", 32, 256),
                  "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256])}
        params["beta1"] = 1.0 - params["one_minus_beta1"]
        model = model_for(params)
        optimizer = optimizer_for(params)
        accuracy = None
        for epoch in range(max_epochs):
            model.fit(*train, optimizer=optimizer if epoch == 0 else None, batch_size=params["batch_size"],
                      epochs=1, verbose=0)
            trained[0] += 1
            accuracy = model.evaluate(*dev)["accuracy"]
            trial.report(accuracy, epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    fn.set_num_threads(threads)
    # A fixed study name: the pruner assigns trials to brackets by a hash of it.
    study = optuna.create_study(study_name=f"hyperband-mnist-{seed}", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed),
                                pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs,
                                                                      reduction_factor=eta))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {"method": "optuna hyperband", "trials": len(study.trials), "full": len(complete),
            "dev_accuracy": study.best_value, "epochs": trained[0], "seconds": seconds}


def table(rows, reference):
    lines = ["| method | trials | trained to max | best dev accuracy | vs random (pp) | epochs | "
             "share of random's | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['trials']} | {r['full']} | {100 * r['dev_accuracy']:.2f}% | "
                     f"{100 * (r['dev_accuracy'] - reference['dev_accuracy']):+.2f} | {r['epochs']} | "
                     f"{r['epochs'] / reference['epochs']:.2f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("FASTNN_MNIST", DATA), help="mnist.npz (Keras layout)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-optuna", action="store_true", help="skip the Optuna comparison")
    parser.add_argument("--quick", action="store_true", help="2,000/1,000 rows, max_epochs=9")
    args = parser.parse_args(argv)
    if not os.path.exists(args.data):
        print(f"skipped: no MNIST file at {os.path.abspath(args.data)} (pass --data or set FASTNN_MNIST)")
        return 0
    n_train, n_dev, max_epochs, eta = (2000, 1000, 9, 3) if args.quick else (10000, 5000, 27, 3)
    train, dev = load(args.data, n_train, n_dev)
    n_random = max_epochs
    common = dict(metric="dev_error", n_jobs=args.n_jobs, threads_per_trial=1)
    hyperband_trials = sum(n for _, n, _ in tune.hyperband_brackets(1, max_epochs, eta))
    print(f"MNIST {n_train} train / {n_dev} dev rows, 784-H-10 with Adam; max_epochs={max_epochs}, eta={eta}, "
          f"n_jobs={args.n_jobs}, {fn.get_num_threads()} threads available", flush=True)
    all_rows = []
    for seed in args.seeds:
        rows = []
        random = fastnn_run("random (full budget)", tune.RandomSearch(
            SPACE, Build(max_epochs), n_trials=n_random, seed=seed, train=train, dev=dev, **common), max_epochs)
        rows.append(random)
        print(f"seed {seed}: {random}", flush=True)
        for name, search in [
                ("hyperband", tune.Hyperband(SPACE, Build(None), max_epochs=max_epochs, eta=eta, seed=seed,
                                             train=train, dev=dev, **common)),
                ("hyperband, synchronous rungs", tune.Hyperband(
                    SPACE, Build(None), max_epochs=max_epochs, eta=eta, seed=seed, asynchronous=False,
                    train=train, dev=dev, **common)),
                ("hyperband, 2 brackets", tune.Hyperband(SPACE, Build(None), max_epochs=max_epochs, eta=eta,
                                                         brackets=2, seed=seed, train=train, dev=dev, **common)),
                ("successive halving", tune.SuccessiveHalving(SPACE, Build(None), n_trials=n_random,
                                                              max_epochs=max_epochs, eta=eta, seed=seed,
                                                              train=train, dev=dev, **common))]:
            rows.append(fastnn_run(name, search, max_epochs))
            print(f"seed {seed}: {rows[-1]}", flush=True)
        if not args.no_optuna:
            try:
                import optuna  # noqa: F401
            except ImportError:
                print("optuna is not installed: its row is skipped (pip install optuna)")
            else:
                rows.append(optuna_run(train, dev, hyperband_trials, max_epochs, eta, seed, args.n_jobs))
                print(f"seed {seed}: {rows[-1]}", flush=True)
        print(f"\nseed {seed}\n{table(rows, random)}\n", flush=True)
        all_rows.append(rows)
    if len(all_rows) > 1:
        means = []
        for i, first in enumerate(all_rows[0]):
            group = [rows[i] for rows in all_rows]
            means.append({"method": first["method"],
                          **{k: float(np.mean([r[k] for r in group]))
                             for k in ("trials", "full", "dev_accuracy", "epochs", "seconds")}})
        for r in means:
            r["trials"], r["full"], r["epochs"] = round(r["trials"]), round(r["full"]), round(r["epochs"])
        print(f"mean over seeds {args.seeds}\n{table(means, means[0])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
