"""Objectives and a fake model shared by the tune tests.

They live in an importable module (not in the test files) so that worker
processes and the SIGKILL test's subprocess can import them by name.
"""
import ctypes
import json
import math
import os
import signal
import sys
import time

import numpy as np

from fastnn import tune

SPACE = {
    "learning_rate": tune.LogUniform(1e-4, 1),
    "beta": tune.OneMinusLogUniform(0.9, 0.999),
    "hidden": tune.IntUniform(50, 100),
    "batch_size": tune.Choice([64, 128, 256, 512]),
}

# The bowl's bottom: learning_rate = 10**BEST_LOG_LR, beta = 1 - 10**BEST_LOG_ONE_MINUS_BETA.
BEST_LOG_LR = -2.7
BEST_LOG_ONE_MINUS_BETA = -2.2


def bowl(params):
    """A narrow bowl in log10(learning_rate), a shallow one in log10(1 - beta)."""
    error = ((math.log10(params["learning_rate"]) - BEST_LOG_LR) ** 2
             + 0.1 * (math.log10(1 - params["beta"]) - BEST_LOG_ONE_MINUS_BETA) ** 2)
    return {"dev_error": error, "train_error": 0.5 * error, "epochs": 5}


def bowl_with_failures(params):
    """The bowl, except that large batches with many hidden units fail and
    learning rates above 0.5 diverge."""
    if params["batch_size"] == 512 and params["hidden"] > 80:
        raise RuntimeError(f"out of memory with batch_size=512, hidden={params['hidden']}")
    if params["learning_rate"] > 0.5:
        return {"dev_error": math.nan, "train_error": math.inf}
    return bowl(params)


def crash_on_three(params):
    """Kills its worker process for x == 3 (as a segfault would)."""
    if params["x"] == 3:
        os._exit(3)
    time.sleep(0.05)
    return {"dev_error": float(params["x"])}


def ends_itself(params):
    """Ends its own run for x = 1..4 (sys.exit, SystemExit, KeyboardInterrupt,
    os._exit); the objective of the other x."""
    x = params["x"]
    if x == 1:
        sys.exit(3)
    if x == 2:
        raise SystemExit("no more")
    if x == 3:
        raise KeyboardInterrupt("from the objective")
    if x == 4:
        os._exit(5)
    time.sleep(0.05)
    return {"dev_error": float(x)}


def hangs(params):
    """Never returns for x = 1 (asleep), 2 (a busy loop) and 3 (asleep in C
    holding the GIL, where no Python thread of the process runs)."""
    x = params["x"]
    if x == 1:
        time.sleep(1000)
    if x == 2:
        while True:
            pass
    if x == 3:
        ctypes.PyDLL(None).sleep(1000)
    time.sleep(0.05)
    return {"dev_error": float(x)}


def interrupts_its_search(params):
    """Sends SIGINT, as the user's Ctrl-C does, to the process running the
    search for x == 1 (this process when ``params["local"]``, else its parent),
    then works on for 120 s, or catches the interrupt and returns when ``params["swallow"]``."""
    if params["x"] == 1:
        try:
            os.kill(os.getpid() if params["local"] else os.getppid(), signal.SIGINT)
            time.sleep(120)
        except KeyboardInterrupt:
            if not params["swallow"]:
                raise
    return {"dev_error": float(params["x"])}


def logged_run(log, params):
    """The bowl after 0.4 s, each call logged to ``log`` as "<x> <start time> <pid>"
    (one O_APPEND write: lines of processes writing at once never mix)."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{params['x']} {time.time()!r} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    time.sleep(0.4)
    return {"dev_error": float(params["x"])}


def report_threads(params):
    import fastnn
    return {"dev_error": params["x"], "threads": fastnn.get_num_threads(), "pid": os.getpid()}


def logged_slow_objective(params):
    """The bowl after a pause, logging each call's start and end (with the pid)
    to the file named by $TUNE_CALL_LOG."""
    with open(os.environ["TUNE_CALL_LOG"], "a") as log:
        log.write(f"start {params['learning_rate']!r} {os.getpid()}\n")
    time.sleep(0.15)
    out = bowl(params)
    with open(os.environ["TUNE_CALL_LOG"], "a") as log:
        log.write(f"end {params['learning_rate']!r} {os.getpid()}\n")
    return out


# -- a fake model following the protocol of Builder and Panda --------------------

class FakeOptimizer:
    def __init__(self, learning_rate=0.1, momentum=0.0):
        self.learning_rate = learning_rate
        self.momentum = momentum


class FakeModel:
    """Linear regression y ~ w * x by mini-batch gradient descent.

    Follows the model protocol: ``fit`` continues from where it stopped and
    returns per-epoch lists; ``evaluate`` returns loss and accuracy;
    ``save``/``load_fake`` round-trip the weights and optimizer state.
    ``fit_calls`` records the learning rate of each epoch.
    """

    def __init__(self, w=0.0, optimizer=None):
        self.w = w
        self.optimizer = optimizer
        self.fit_calls = []

    def fit(self, X, y, epochs=1, validation_data=None, optimizer=None, batch_size=None):
        if optimizer is not None:
            self.optimizer = optimizer
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        batch_size = batch_size or len(X)
        for _ in range(epochs):
            self.fit_calls.append(self.optimizer.learning_rate)
            with np.errstate(all="ignore"):
                for start in range(0, len(X), batch_size):
                    xb, yb = X[start:start + batch_size], y[start:start + batch_size]
                    grad = float(np.mean(2 * xb * (xb * self.w - yb)))
                    self.w -= self.optimizer.learning_rate * grad
            for prefix, (Xs, ys) in (("", (X, y)), ("val_", validation_data)):
                if Xs is None:
                    continue
                scores = self.evaluate(Xs, ys)
                history[prefix + "loss"].append(scores["loss"])
                history[prefix + "accuracy"].append(scores["accuracy"])
        return history

    def evaluate(self, X, y):
        with np.errstate(all="ignore"):
            loss = float(np.mean((X * self.w - y) ** 2))
        return {"loss": loss, "accuracy": math.exp(-loss) if math.isfinite(loss) else math.nan}

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"w": self.w, "learning_rate": self.optimizer.learning_rate,
                       "momentum": self.optimizer.momentum}, f)


def load_fake(path):
    with open(path) as f:
        state = json.load(f)
    return FakeModel(state["w"], FakeOptimizer(state["learning_rate"], state["momentum"]))


def regression_data(n=64, w=3.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(n)
    return X, w * X + 0.1 * rng.standard_normal(n)


def build_fake(params):
    """A builder: (model, fit_kwargs) from params."""
    if params.get("broken"):
        return object(), {}
    return FakeModel(), {"optimizer": FakeOptimizer(params["learning_rate"]), "epochs": int(params["epochs"]),
                         "batch_size": 16}


# -- successive halving ----------------------------------------------------------------

class EpochModel(FakeModel):
    """A FakeModel that counts its epochs and keeps the count in its file;
    each epoch it trains is logged as "<learning rate> <epoch>" to the file
    named by $TUNE_EPOCH_LOG (if set), after a pause of $TUNE_EPOCH_PAUSE seconds."""

    def __init__(self, w=0.0, optimizer=None, epoch=0):
        super().__init__(w, optimizer)
        self.epoch = epoch

    def fit(self, X, y, epochs=1, **kwargs):
        history = {}
        for _ in range(epochs):
            time.sleep(float(os.environ.get("TUNE_EPOCH_PAUSE", "0")))
            for key, values in super().fit(X, y, epochs=1, **kwargs).items():
                history.setdefault(key, []).extend(values)
            kwargs.pop("optimizer", None)
            log = os.environ.get("TUNE_EPOCH_LOG")
            if log:
                fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                try:
                    os.write(fd, f"{self.optimizer.learning_rate!r} {self.epoch}\n".encode())
                finally:
                    os.close(fd)
            self.epoch += 1
        return history

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"w": self.w, "learning_rate": self.optimizer.learning_rate, "epoch": self.epoch}, f)


def load_epoch_model(path):
    with open(path) as f:
        state = json.load(f)
    return EpochModel(state["w"], FakeOptimizer(state["learning_rate"]), state["epoch"])


def build_epoch_model(params):
    return EpochModel(), {"optimizer": FakeOptimizer(params["learning_rate"]), "batch_size": 16}


def epoch_builder():
    return tune.Builder(build_epoch_model, regression_data(64, seed=0), regression_data(32, seed=1),
                        load=load_epoch_model)


def sigkill_when(process, ready, timeout=60):
    """SIGKILL the search ``process`` once ``ready()`` is true (failing the
    test if the search ends or stalls first)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, "the search made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
