"""Model files: round trips, bit-identical resume, atomic writes, bad files."""
import json
import os
import stat
import struct

import numpy as np
import pytest

import fastnn as fn
from hostile_files import central_directory


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


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_saved_file_gets_the_usual_mode_and_keeps_an_existing_one(tmp_path):
    model = make()
    old = os.umask(0o027)
    try:
        model.save(tmp_path / "new.fnn")
        (tmp_path / "plain.txt").write_text("x")       # how any new file comes out
        assert mode_of(tmp_path / "new.fnn") == mode_of(tmp_path / "plain.txt") == 0o640
        for mode in (0o600, 0o644):                      # replacing: the old file's mode
            path = tmp_path / f"old{mode:o}.fnn"
            path.write_bytes(b"old")
            os.chmod(path, mode)
            model.save(path)
            assert mode_of(path) == mode
    finally:
        os.umask(old)
    assert sorted(os.listdir(tmp_path)) == ["new.fnn", "old600.fnn", "old644.fnn", "plain.txt"]


def test_save_through_a_symlink_replaces_its_target(tmp_path):
    X, _ = data()
    model = make()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.fnn"
    target.write_bytes(b"old")
    link = tmp_path / "latest.fnn"
    link.symlink_to(os.path.join("real", "m.fnn"))      # relative, as links often are
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "m.fnn")
    np.testing.assert_array_equal(fn.load_model(target).predict_proba(X), model.predict_proba(X))
    assert os.listdir(tmp_path / "real") == ["m.fnn"]
    dangling = tmp_path / "next.fnn"                    # a link to a file not written yet
    dangling.symlink_to(tmp_path / "real" / "next.fnn")
    model.save(dangling)
    assert dangling.is_symlink() and (tmp_path / "real" / "next.fnn").is_file()


def test_save_into_a_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "no" / "such" / "m.fnn"
    with pytest.raises(FileNotFoundError, match="save: cannot write .*m.fnn: the folder .*such "
                                                "does not exist") as info:
        make().save(path)
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_npy_file_is_not_a_model(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="not a fastnn model file .*npy"):
        fn.load_model(tmp_path / "x.npy")


# (field offset in a central directory record, struct format, new value from the old)
CORRUPTIONS = {
    "encrypted": (8, "<H", lambda v: v | 0x1),             # RuntimeError: password required
    "patched data": (8, "<H", lambda v: v | 0x20),         # NotImplementedError
    "unknown compression": (10, "<H", lambda v: 99),       # NotImplementedError
    "deflate claimed": (10, "<H", lambda v: 8),            # zlib.error
    "newer zip version": (6, "<H", lambda v: 0xFF),        # NotImplementedError
    "wrong local offset": (42, "<I", lambda v: v + 1),     # BadZipFile: bad magic number
    "short size": (20, "<I", lambda v: v // 2),            # truncated read
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_central_directory_raises_value_error(tmp_path, kind):
    model = make()
    model.fit(*data(), epochs=1, verbose=0)
    path = tmp_path / "m.fnn"
    model.save(path)
    data_ = path.read_bytes()
    field, fmt, change = CORRUPTIONS[kind]
    records = central_directory(data_)
    assert len(records) == 10                          # every entry, the header included
    for record in records:
        at = record + field
        broken = bytearray(data_)
        struct.pack_into(fmt, broken, at, change(struct.unpack_from(fmt, data_, at)[0]))
        bad = tmp_path / "bad.fnn"
        bad.write_bytes(bytes(broken))
        with pytest.raises(ValueError, match="load_model: .*bad.fnn is not a readable fastnn "
                                             "model file"):
            fn.load_model(bad)


def rewrite(src, dst, change):
    with np.load(src) as archive:
        entries = {k: archive[k] for k in archive.files}
    change(entries)
    np.savez(dst, **entries)


def put(key, value):
    return lambda entries: entries.__setitem__(key, value)


def put_nan(key, index, value=np.nan):
    def change(entries):
        entries[key] = entries[key].copy()
        entries[key].flat[index] = value
    return change


def drop(key):
    return lambda entries: entries.pop(key)


def set_header(update):
    def change(entries):
        header = json.loads(entries["__fastnn__"].tobytes())
        update(header)
        entries["__fastnn__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    return change


DAMAGE = {
    # a (1,) array would broadcast over all 12 columns
    "running_mean (1,)": (put("state/batchnorm_1.running_mean", np.zeros(1, np.float32)),
                          r"state/batchnorm_1.running_mean has shape \(1,\)"),
    "running_var float64": (put("state/batchnorm_1.running_var", np.ones(12)),
                            "state/batchnorm_1.running_var has shape .* float64; "
                            "expected .*float32"),
    "running_var < 0": (put("state/batchnorm_1.running_var", -np.ones(12, np.float32)),
                        "state/batchnorm_1.running_var has negative values"),
    "running_mean inf": (put_nan("state/batchnorm_1.running_mean", 3, np.inf),
                         "state/batchnorm_1.running_mean contains NaN or Inf"),
    "param nan": (put_nan("param/dense_2.W", 5), "param/dense_2.W contains NaN or Inf"),
    "optim v short": (put("optim/v/0", np.zeros(100, np.float32)),
                      r"optim/v/0 has shape \(100,\) .*expected \(148,\)"),
    "optim s 2-D": (put("optim/s/0", np.zeros((4, 37), np.float32)), "optim/s/0 has shape"),
    "optim s float64": (put("optim/s/0", np.zeros(148)), "optim/s/0 .*float64"),
    "optim s nan": (put_nan("optim/s/0", 0), "optim/s/0 contains NaN"),
    "optim s < 0": (put("optim/s/0", -np.ones(148, np.float32)), "optim/s/0 has negative"),
    "optim two arrays": (set_header(lambda h: h["optimizer"]["state"].update(v=2)),
                         "optimizer state 'v' must be one flat array"),
    "missing param": (drop("param/dense_1.W"), "the entry param/dense_1.W is missing"),
    "missing state": (drop("state/batchnorm_1.running_var"),
                      "the entry state/batchnorm_1.running_var is missing"),
    "missing optim": (drop("optim/s/0"), "the entry optim/s/0 is missing"),
    "missing header field": (set_header(lambda h: h.pop("epoch")),
                             "the header has no field 'epoch'"),
    "negative epoch": (set_header(lambda h: h.update(epoch=-5)),
                       "the header's epoch must be an integer >= 0; got -5"),
    "float step": (set_header(lambda h: h.update(step=2.5)),
                   "the header's step must be an integer >= 0"),
    "unknown loss": (set_header(lambda h: h.update(loss="bogus")),
                     "the header's loss: loss must be one of"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_entries_fail_at_load_naming_the_entry(tmp_path, kind):
    model = make()
    model.fit(*data(), optimizer=fn.Adam(0.01), epochs=1, verbose=0)
    model.save(tmp_path / "m.fnn")
    change, message = DAMAGE[kind]
    rewrite(tmp_path / "m.fnn", tmp_path / "bad.npz", change)
    with pytest.raises(ValueError, match="load_model: .*bad.npz is damaged or incomplete: "
                                         + message):
        fn.load_model(tmp_path / "bad.npz")


def test_missing_normalizer_entry_is_named(tmp_path):
    X, y = data()
    model = make()
    model.normalizer = fn.Normalizer().fit(X)
    model.save(tmp_path / "m.fnn")
    rewrite(tmp_path / "m.fnn", tmp_path / "bad.npz", drop("normalizer/scale"))
    with pytest.raises(ValueError, match="the entry normalizer/scale is missing"):
        fn.load_model(tmp_path / "bad.npz")
