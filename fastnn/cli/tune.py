"""``fastnn tune SPACE.toml DATA``: a hyperparameter search from a TOML file.

The file has three tables: ``[search]`` (how to search; optional),
``[fixed]`` (settings shared by every trial: the keys of ``fastnn train``)
and ``[space]`` (what is searched, over the same keys).  Each trial builds
the model ``train`` would build and trains it on a seeded train/dev split
of DATA (fastnn.tune's builder objective); the search minimizes the dev
error (the dev loss for regression).
"""
import json
import math
import os
import shlex

from fastnn.cli import build, config
from fastnn.cli.datafiles import check_output
from fastnn.cli.errors import CLIError
from fastnn.cli.train import add_data_flags, load_training_data, split_dev, train_and_save

__all__ = ["add_parsers", "read_space", "best_settings", "write_train_toml"]

_EXAMPLE = """\
  [search]                  # optional; the flags below override it
  strategy = "random"       # random, grid, coarse_to_fine, successive_halving or hyperband
  n_trials = 20             # coarse_to_fine: the total, split over `rounds` (default 3)
  # successive_halving, hyperband: max_epochs = 27, eta = 3 (min_epochs = 1; hyperband:
  # brackets = how many, default all); the trials' epochs come from these, not [fixed]
  timeout_per_trial = 600   # seconds; a trial over time is stopped, recorded as timeout

  [fixed]                   # every trial: the keys of `fastnn train` (--help lists them)
  epochs = 20
  normalize = true

  [space]                   # a list is a choice; a table names a distribution
  learning_rate = { log_uniform = [1e-4, 1e-1] }
  beta1 = { one_minus_log_uniform = [0.9, 0.999] }
  layers = { choice = [64, 128, "128,64"] }
  batch_size = [32, 64, 128]"""

# [space] table forms -> fastnn.tune distributions (built lazily: tune imports on use)
_DISTRIBUTIONS = ("uniform", "int_uniform", "log_uniform", "one_minus_log_uniform", "choice")

_STRATEGIES = ("random", "grid", "coarse_to_fine", "successive_halving", "hyperband")
# [search] keys of some strategies only
_STRATEGY_KEYS = {"rounds": ("coarse_to_fine",), "keep": ("coarse_to_fine",),
                  "min_epochs": ("successive_halving", "hyperband"),
                  "max_epochs": ("successive_halving", "hyperband"),
                  "eta": ("successive_halving", "hyperband"), "brackets": ("hyperband",)}

# [search] keys and their types; their ranges are checked by the strategies
_SEARCH_KEYS = {
    "strategy": config.OneOf(*_STRATEGIES),
    "n_trials": config.IntValue(), "rounds": config.IntValue(), "keep": config.IntValue(),
    "min_epochs": config.IntValue(), "max_epochs": config.IntValue(), "eta": config.IntValue(),
    "brackets": config.IntValue(),
    "metric": config.Text(), "mode": config.OneOf("min", "max"),
    "seed": config.IntValue(), "n_jobs": config.IntValue(), "storage": config.Text(),
    "output": config.Text(), "timeout_per_trial": config.FloatValue(),
    "best_config": config.Text(), "save_best": config.Text(),
}
_DEFAULTS = {"strategy": "random", "n_trials": 20, "rounds": 3, "mode": "min", "n_jobs": 1,
             "storage": None, "output": "tune-trials.csv", "seed": 0, "timeout_per_trial": None,
             "best_config": None, "save_best": None}


def add_parsers(add):
    p = add("tune", "search hyperparameters described by a TOML file",
            "Search the hyperparameters of `fastnn train` on DATA: each trial trains a model\n"
            "on a seeded train/dev split (dev_fraction in [fixed], default 0.2) and reports\n"
            "its train and dev metrics.  Prints one line per trial, the best trials and the\n"
            "best one's settings, and writes every trial to a CSV file.  With --storage the\n"
            "trials are kept in an SQLite file, and a search run again resumes.\n\n"
            "The best trial's settings are written as a train.toml (--best-config; default\n"
            "best.toml beside --storage, or beside the trials CSV), with the `fastnn train\n"
            "... --config best.toml` line that trains its model again; --save-best MODEL.fnn\n"
            "runs that training and saves the model.\n\n"
            "Distributions: uniform, int_uniform, log_uniform (rates: each decade equally\n"
            "likely), one_minus_log_uniform (averaging coefficients: 1 - beta on a log\n"
            "scale), choice.  A grid search takes lists, or a distribution with points = n:\n"
            "{ log_uniform = [a, b], points = 4 }.\n\n"
            f"SPACE.toml:\n{_EXAMPLE}\n\n"
            "example:\n  fastnn tune search.toml train.csv --n-trials 30 --n-jobs 2 --storage "
            "search.db")
    p.add_argument("space", metavar="SPACE.toml", help="the search: [search], [fixed], [space]")
    p.add_argument("data", metavar="DATA", help=".npz or .csv training data (as for train)")
    add_data_flags(p)
    p.add_argument("--strategy", choices=_STRATEGIES,
                   default=None, help="how to pick trials (default: random)")
    p.add_argument("--n-trials", type=int, help="the budget (default: 20; a grid runs every "
                   "combination)")
    p.add_argument("--n-jobs", type=int, help="trials run in parallel worker processes "
                   "(default: 1; -1: every core)")
    p.add_argument("--storage", metavar="FILE.db", help="SQLite trial store: a search run "
                   "again skips the trials it holds")
    p.add_argument("--seed", type=int, help="seed of the search's draws (default: 0; the "
                   "models' own seed is `seed` in [fixed])")
    p.add_argument("--output", "-o", metavar="FILE.csv",
                   help="CSV of every trial, best first (default: tune-trials.csv)")
    p.add_argument("--timeout-per-trial", type=float, metavar="SECONDS",
                   help="stop a trial after this long and record it as timeout (default: no limit; "
                   "with a limit, trials run in worker processes even with --n-jobs 1)")
    p.add_argument("--best-config", metavar="FILE.toml",
                   help="write the best trial's settings here, as `fastnn train --config` takes "
                        "them (default: best.toml in the folder of --storage, else of --output)")
    p.add_argument("--save-best", metavar="MODEL.fnn",
                   help="after the search, train the best trial's model again (as `fastnn train "
                        "--config` would) and save it here")
    p.add_argument("--threads", type=int, help="threads per trial (default: cores / n_jobs)")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(run=run)


def run(args):
    from fastnn.preprocessing import Normalizer

    flags = {name: getattr(args, name) for name in ("strategy", "n_trials", "n_jobs", "storage",
                                                    "seed", "output", "timeout_per_trial",
                                                    "best_config", "save_best")}
    search, fixed, space = read_space(args.space, {k: v for k, v in flags.items()
                                                   if v is not None})
    check_output(search["output"])
    best_config = search["best_config"] or os.path.join(
        os.path.dirname(search["storage"] or search["output"]), "best.toml")
    check_output(best_config)
    if search["save_best"]:
        check_output(search["save_best"])
    task = config.get(fixed, "task")
    data = load_training_data(args, task)
    X, y = data.X, data.y
    train, dev = split_dev(X, y, fixed)
    if dev is None:
        raise CLIError("tune scores every trial on a dev set: dev_fraction in [fixed] must be > 0")
    builder = build.TrialBuilder(fixed, X.shape[1], data.n_outputs, Normalizer().fit(train[0]))
    strategy, kwargs = _strategy(search, space, task)
    searcher = strategy(space, builder, train=train, dev=dev, storage=search["storage"],
                        n_jobs=search["n_jobs"], seed=search["seed"],
                        timeout_per_trial=search["timeout_per_trial"],
                        threads_per_trial=args.threads, verbose=not args.quiet, **kwargs)
    print(f"{type(searcher).__name__} over {', '.join(space)} on {args.data}: "
          f"{len(train[0])} train / {len(dev[0])} dev examples")
    if data.note:
        print(f"  {data.note}")
    result = searcher.run()

    best = result.best
    print(f"\n{result.table(top=10)}\n")
    print(f"best trial {best.id}: {result.metric} {best.value(result.metric):.4g}, "
          f"{best.epochs} epochs, {best.seconds:.1f} s")
    for name, value in best.params.items():
        print(f"  {name} = {value!r}")
    result.to_csv(search["output"])
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    print(f"{len(result)} trials ({counts}) written to {os.path.abspath(search['output'])}")

    settings = best_settings(fixed, best.params)
    if best.rung is not None:
        settings["epochs"] = best.epochs    # the rung it reached trained it so long
    command = _train_command(args, best_config, search["save_best"] or "best.fnn")
    comment = (f"fastnn tune: the best of {len(result)} trials ({best.id}, {result.metric} "
               f"{best.value(result.metric):.6g}) of {args.space} on {args.data}\n"
               f"reproduce: {command}")
    write_train_toml(best_config, settings, comment)
    print(f"best settings written to {os.path.abspath(best_config)}; train that model again with:")
    print(f"  {command}")
    if search["save_best"]:
        print(f"\ntraining the best trial's model again ({command}):")
        train_and_save(data, args.data, settings, search["save_best"], verbose=0, command="tune")
    return 0


def best_settings(fixed, params):
    """The settings of ``fastnn train`` that the trial with ``params`` trained
    with: [fixed] and the trial's values, less the keys its optimizer and
    schedule do not take (the trials leave them out too)."""
    return build.effective_settings({**fixed, **config.check_settings(params, "")})


def _train_command(args, config_path, output):
    words = ["fastnn", "train", args.data, "--config", config_path]
    if args.label_column is not None:
        words += ["--label-column", str(args.label_column)]
    if args.header is not None:
        words.append("--header" if args.header else "--no-header")
    if args.skip_rows:
        words += ["--skip-rows", str(args.skip_rows)]
    if args.threads is not None:
        words += ["--threads", str(args.threads)]
    return shlex.join(words + ["--output", output])


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value)          # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def write_train_toml(path, settings, comment=""):
    """``settings`` as a train.toml (flat key = value, in the order of
    ``fastnn train --help``), atomically."""
    from fastnn.serialization import atomic_write

    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{name} = {_toml_value(settings[name])}" for name in config.KEYS
              if name in settings]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), func="tune")


def _strategy(search, space, task):
    """The tune strategy class and its own arguments."""
    from fastnn import tune

    metric = search.get("metric") or ("dev_error" if task == "classification" else "dev_loss")
    common = {"metric": metric, "mode": search["mode"]}
    if search["strategy"] == "grid":
        return tune.GridSearch, common
    if search["strategy"] in ("successive_halving", "hyperband"):
        rungs = dict(common, max_epochs=search["max_epochs"], min_epochs=search.get("min_epochs", 1),
                     eta=search.get("eta", 3))
        if search["strategy"] == "hyperband":
            return tune.Hyperband, dict(rungs, brackets=search.get("brackets"))
        return tune.SuccessiveHalving, dict(rungs, n_trials=search["n_trials"])
    if search["strategy"] == "coarse_to_fine":
        per_round = max(1, math.ceil(search["n_trials"] / search["rounds"]))
        return tune.CoarseToFine, dict(common, n_trials_per_round=per_round,
                                       rounds=search["rounds"], keep=search.get("keep"))
    return tune.RandomSearch, dict(common, n_trials=search["n_trials"])


# ---------------------------------------------------------------- the file

def read_space(path, overrides=None):
    """(search settings, fixed settings, {name: distribution or list}) of a SPACE.toml;
    ``overrides`` (the flags) replace [search] settings, before the space is read
    since a grid reads it differently."""
    data = config.load_toml(path)
    where = f"{os.fspath(path)}: "
    for name in data:
        if name not in ("search", "fixed", "space"):
            raise config.unknown_key(where, name, ["search", "fixed", "space"])
    tables = {}
    for name in ("search", "fixed", "space"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise CLIError(f"{where}{name} must be a table ([{name}]); got {table!r}")
        tables[name] = table
    search = dict(_DEFAULTS)
    for name, value in tables["search"].items():
        if name not in _SEARCH_KEYS:
            raise config.unknown_key(f"{where}[search] ", name, _SEARCH_KEYS)
        search[name] = config.check_value(_SEARCH_KEYS[name], name, value, f"{where}[search] ")
    search.update(overrides or {})
    for name, strategies in _STRATEGY_KEYS.items():
        if name in tables["search"] and search["strategy"] not in strategies:
            raise CLIError(f"{where}[search] {name} applies to strategy = "
                           f"{' or '.join(repr(s) for s in strategies)} only; the strategy is "
                           f"{search['strategy']!r}")
    halving = search["strategy"] in ("successive_halving", "hyperband")
    if halving and "max_epochs" not in search:
        raise CLIError(f"{where}[search] strategy = {search['strategy']!r} needs max_epochs (the epochs "
                       f"of the last rung, min_epochs * eta**k), e.g. max_epochs = 27")
    fixed = config.check_settings(tables["fixed"], f"{where}[fixed] ")
    if halving and ("epochs" in fixed or "epochs" in tables["space"]):
        raise CLIError(f"{where}epochs cannot be set with strategy = {search['strategy']!r}: each rung "
                       f"sets the trials' epochs (min_epochs * eta**k up to max_epochs in [search])")
    if halving and ("patience" in fixed or "patience" in tables["space"]):
        raise CLIError(f"{where}patience (early stopping) cannot be used with strategy = "
                       f"{search['strategy']!r}: the rungs stop the bad trials, and a trial must train "
                       f"every epoch of its rung")
    grid = search["strategy"] == "grid"
    space = {}
    for name, spec in tables["space"].items():
        entry_where = f"{where}[space] "
        key = config.KEYS.get(name)
        if key is None:
            raise config.unknown_key(entry_where, name, config.KEYS)
        if not key.searchable:
            raise CLIError(f"{entry_where}{name} is fixed before the search starts; set it in "
                           f"[fixed]")
        if not isinstance(spec, (list, dict)):
            fixed[name] = key.check(spec, f"{where}[space] ")   # one value: not searched
            continue
        space[name] = _distribution(spec, key, grid, entry_where)
    if not space:
        raise CLIError(f"{where}[space] is empty: nothing to search; add for example "
                       f"learning_rate = {{ log_uniform = [1e-4, 1e-1] }}")
    return search, fixed, space


def _distribution(spec, key, grid, where):
    """The tune distribution (for a grid: the list of values) of one [space]
    entry, its values checked against the key's type."""
    from fastnn import tune

    values_where, where = where, f"{where}{key.name}: "
    if isinstance(spec, list):
        spec = {"choice": spec}
    kinds = [k for k in spec if k in _DISTRIBUTIONS]
    extra = [k for k in spec if k not in _DISTRIBUTIONS and k != "points"]
    if len(kinds) != 1 or extra:
        raise CLIError(f"{where}give exactly one of {', '.join(_DISTRIBUTIONS)} (and, for a "
                       f"grid, points = n); got {sorted(spec)}")
    kind = kinds[0]
    if "points" in spec and not grid:
        raise CLIError(f"{where}points applies to a grid search only")
    if grid and kind != "choice" and "points" not in spec:
        raise CLIError(f"{where}a grid needs a list of values, or points = n to spread n "
                       f"values over the {kind} range")
    try:
        if kind == "choice":
            dist = tune.Choice(spec[kind])
            values = dist.options
        else:
            bounds = spec[kind]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise CLIError(f"{where}{kind} takes two bounds [a, b]; got {bounds!r}")
            cls = {"uniform": tune.Uniform, "int_uniform": tune.IntUniform,
                   "log_uniform": tune.LogUniform,
                   "one_minus_log_uniform": tune.OneMinusLogUniform}[kind]
            dist = cls(*bounds)
            values = [dist.a, dist.b]
        if grid:
            values = dist.grid(spec.get("points"))
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{where}{exc}") from None
    for value in values:
        key.check(value, values_where)
    return values if grid else dist
