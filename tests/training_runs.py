"""Representative training runs and a digest of everything they produce:
weights, BatchNorm statistics, optimizer state, counters, histories and stop
reasons.  test_training_digests.py checks that restructuring the training
code changes none of it, bit for bit.

Digests depend on the GEMM provider, its version and the CPU (a different
BLAS kernel rounds differently), so they are stored per environment:

    python tests/training_runs.py --record     # (re)record for this environment
"""
import hashlib
import json
import os
import sys
import tempfile
import warnings

import numpy as np

import fastnn as fn
from fastnn import augment, callbacks, schedules

DIGESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "training_digests.json")
THREADS = 2


def environment():
    """What the bits of a run depend on, as one string."""
    from fastnn import _runtime
    info = _runtime.runtime_info()
    gemm = info["gemm"]
    return (f"{info['cpu']} | {gemm['provider']} {gemm.get('version') or ''} "
            f"{gemm.get('detail') or ''} | numpy {np.__version__} | {THREADS} threads")


def _data(m=96, n=8, classes=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)).astype(dtype)
    w = rng.standard_normal((n, classes))
    return X, np.argmax(X @ w + 0.3 * rng.standard_normal((m, classes)), axis=1)


def _digest(model, history):
    h = hashlib.sha256()
    for a in model.get_weights():
        h.update(np.ascontiguousarray(a).tobytes())
    for layer in model.layers:
        for _, a in sorted(layer.state_arrays().items()):
            h.update(a.tobytes())
    if model.optimizer is not None:
        sd = model.optimizer.state_dict()
        for key, arrays in sorted(sd.pop("state").items()):
            for a in arrays or []:
                h.update(np.asarray(a).tobytes())
        h.update(json.dumps(sd, sort_keys=True, default=repr).encode())
    h.update(f"{model.epoch} {model.step}".encode())
    for one in history if isinstance(history, list) else [history]:
        logs = {k: [repr(float(v)) for v in vals] for k, vals in one.history.items() if k != "time"}
        h.update(json.dumps([logs, one.epoch, [repr(float(v)) for v in one.batch_loss],
                             {k: [repr(float(v)) for v in vals]
                              for k, vals in one.grad_norms.items()},
                             one.stop_reason], sort_keys=True).encode())
    return h.hexdigest()


def run_activations():
    X, y = _data()
    model = fn.Sequential([fn.Dense(16, "relu"), fn.Dense(12, "leaky_relu", negative_slope=0.1),
                           fn.Dense(10, "tanh", init="xavier"), fn.Dense(8, "sigmoid"),
                           fn.Dense(6, "linear"), fn.Dense(3, "softmax")], seed=1)
    hist = model.fit(X, y, optimizer=fn.SGD(0.1), epochs=3, batch_size=32, verbose=0,
                     validation_data=_data(seed=9), record_batch_loss=True,
                     record_grad_norms=True)
    return model, hist


def run_batchnorm_dropout_momentum():
    X, y = _data(m=101)
    model = fn.Sequential([fn.Dense(16, "relu"), fn.BatchNorm(), fn.Dropout(0.7),
                           fn.Dense(12, "tanh"), fn.BatchNorm(momentum=0.8),
                           fn.Dense(3, "softmax")], seed=2)
    with warnings.catch_warnings():      # 101 rows by 20: the last row of one is left out
        warnings.simplefilter("ignore", UserWarning)
        hist = model.fit(X, y, epochs=4, batch_size=20, l2=0.01, verbose=0,
                         optimizer=fn.Momentum(schedules.StepDecay(0.05, 2, factor=0.5), beta=0.9))
    return model, hist


def run_rmsprop_binary_l1():
    X, y = _data(classes=2)
    model = fn.Sequential([fn.Dense(10, "relu"), fn.Dropout(0.9), fn.Dense(1, "sigmoid")],
                          seed=3)
    hist = model.fit(X, y, optimizer=fn.RMSprop(schedules.ExponentialDecay(0.01, 0.9)),
                     epochs=3, batch_size=16, l1=0.001, verbose=0, validation_data=(X[:20], y[:20]))
    return model, hist


def run_adam_regression_float64():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 5))
    Y = np.c_[X[:, :2].sum(1), np.sin(X[:, 2])]
    model = fn.Sequential([fn.Dense(12, "tanh"), fn.Dense(2, "linear")], dtype="float64", seed=4)
    hist = model.fit(X, Y, optimizer=fn.Adam(schedules.InverseTimeDecay(0.01, 0.5)), epochs=3,
                     batch_size=None, verbose=0)
    hist2 = model.fit(X, Y, optimizer=fn.Adam(schedules.InverseSqrtDecay(0.01)), epochs=2,
                      batch_size=1, shuffle=False, verbose=0)
    return model, [hist, hist2]


def run_callbacks():
    X, y = _data(m=120)
    folder = tempfile.mkdtemp()
    model = fn.Sequential([fn.Dense(16, "relu"), fn.Dense(3, "softmax")], seed=5)
    cbs = [callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best=True),
           callbacks.LearningRateScheduler(schedules.ExponentialDecay(0.5, 0.5)),
           callbacks.ModelCheckpoint(os.path.join(folder, "best.fnn"), save_best_only=True)]
    hist = model.fit(X, y, optimizer=fn.SGD(0.5), epochs=12, batch_size=8, verbose=0,
                     validation_data=_data(m=40, seed=7), callbacks=cbs)
    saved = fn.load_model(os.path.join(folder, "best.fnn"))
    return model, [hist, _fake_history(saved)]


def _fake_history(model):
    h = fn.History()
    h.stop_reason = _digest(model, fn.History())
    return h


def run_rollback_on_divergence():
    X, y = _data()
    model = fn.Sequential([fn.Dense(16, "relu"), fn.Dense(3, "softmax")], seed=6)
    first = model.fit(X, y, optimizer=fn.SGD(0.05), epochs=2, verbose=0)
    model.optimizer.learning_rate = 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        second = model.fit(X * 1e3, y, epochs=3, verbose=0)
    return model, [first, second]


def run_augmentation():
    rng = np.random.default_rng(8)
    images = rng.random((64, 6, 6)).astype(np.float32)
    y = (images[:, :, :3].sum((1, 2)) > images[:, :, 3:].sum((1, 2))).astype(int)
    model = fn.Sequential([fn.Dense(12, "relu"), fn.Dense(2, "softmax")], seed=8)
    transform = augment.Compose([augment.RandomFlip(),
                                 augment.RandomTranslation(1)])
    hist = model.fit(images.reshape(64, 36), y, epochs=3, batch_size=16, verbose=0,
                     augment=transform, image_shape=(6, 6))
    return model, hist


def run_save_resume():
    X, y = _data()
    folder = tempfile.mkdtemp()
    model = fn.Sequential([fn.Dense(16, "relu"), fn.BatchNorm(), fn.Dropout(0.8),
                           fn.Dense(3, "softmax")], seed=10)
    first = model.fit(X, y, optimizer=fn.Adam(0.01), epochs=2, batch_size=24, verbose=0)
    model.save(os.path.join(folder, "m.fnn"))
    resumed = fn.load_model(os.path.join(folder, "m.fnn"))
    second = resumed.fit(X, y, epochs=2, batch_size=24, verbose=0)
    return resumed, [first, second]


RUNS = {name[4:]: fn_ for name, fn_ in sorted(globals().items()) if name.startswith("run_")}


def digests():
    before = fn.get_num_threads()
    fn.set_num_threads(THREADS)
    try:
        return {name: _digest(*run()) for name, run in RUNS.items()}
    finally:
        fn.set_num_threads(before)


def stored():
    if not os.path.exists(DIGESTS):
        return {}
    with open(DIGESTS) as f:
        return json.load(f)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        print(__doc__)
        sys.exit(2)
    table = stored()
    table[environment()] = digests()
    os.makedirs(os.path.dirname(DIGESTS), exist_ok=True)
    with open(DIGESTS, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"recorded {len(table[environment()])} digests for: {environment()}")
