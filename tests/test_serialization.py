"""Model files: round trips, bit-identical resume, atomic writes, bad files."""
import os

import numpy as np
import pytest

import fastnn as fn


def make(seed=0):
    return fn.Sequential([fn.Dense(12, "relu"), fn.BatchNorm(), fn.Dropout(0.8),
                          fn.Dense(4, "softmax", init="xavier")], input_dim=6, seed=seed)


def data(m=120):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 6)).astype(np.float32), rng.integers(0, 4, m)


def test_save_load_predicts_bit_identically(tmp_path):
    X, y = data()
    model = make()
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "m.fnn"
    model.save(path)
    loaded = fn.load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_config() == model.get_config()
    assert loaded.epoch == 2 and loaded.loss == "categorical_crossentropy"
    with np.load(path, allow_pickle=False) as archive:     # no pickle anywhere
        assert "__fastnn__" in archive.files


def test_resumed_training_continues_bit_identically(tmp_path):
    X, y = data()
    straight = make(seed=5)
    straight.fit(X, y, optimizer=fn.Adam(learning_rate=fn.schedules.InverseTimeDecay(0.01, 0.5)),
                 epochs=4, batch_size=32, verbose=0)
    first = make(seed=5)
    first.fit(X, y, optimizer=fn.Adam(learning_rate=fn.schedules.InverseTimeDecay(0.01, 0.5)),
              epochs=2, batch_size=32, verbose=0)
    first.save(tmp_path / "ckpt.fnn")
    resumed = fn.load_model(tmp_path / "ckpt.fnn")
    resumed.fit(X, y, epochs=2, batch_size=32, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight.layers[1].running_var, resumed.layers[1].running_var)


def test_normalizer_is_saved_with_the_model(tmp_path):
    X, y = data()
    raw = X * 50 + 7
    model = make()
    model.normalizer = fn.Normalizer().fit(raw)
    model.fit(raw, y, epochs=1, verbose=0)
    model.save(tmp_path / "n.fnn")
    loaded = fn.load_model(tmp_path / "n.fnn")
    np.testing.assert_array_equal(loaded.predict_proba(raw), model.predict_proba(raw))


def test_checkpoint_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    X, y = data()
    model = make()
    path = tmp_path / "m.fnn"
    model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fnn"]       # no temporary file left behind


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        fn.load_model(tmp_path / "missing.fnn")
    junk = tmp_path / "junk.fnn"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a fastnn model file"):
        fn.load_model(junk)
    csv = tmp_path / "data.csv"
    csv.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="not a fastnn model file"):
        fn.load_model(csv)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(ValueError, match="not a fastnn model file"):
        fn.load_model(foreign)
    model = make()
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        entries = {k: archive[k] for k in archive.files}
    entries["param/dense_1.W"] = entries["param/dense_1.W"][:, :3]
    np.savez(tmp_path / "damaged.npz", **entries)
    with pytest.raises(ValueError, match="damaged"):
        fn.load_model(tmp_path / "damaged.npz")
