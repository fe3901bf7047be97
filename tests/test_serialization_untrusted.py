"""Model files as untrusted input: a file cannot make load_model allocate or
work more than its size justifies; interrupted saves leave nothing behind.

The hostile files are made by tests/hostile_files.py from a real model file.
Memory is measured with tracemalloc, which sees NumPy's array allocations.
"""
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fastnn as fn
import hostile_files as hostile

MB = 1 << 20


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "small.fnn"
    model = hostile.small_model_file(path)
    return path, model


def load_measured(path):
    """(model or the exception raised, peak bytes NumPy and Python allocated)."""
    tracemalloc.start()
    try:
        try:
            result = fn.load_model(path)
        except Exception as exc:         # noqa: BLE001 - the caller checks which
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_refused(path, match, limit=4 * MB):
    result, peak = load_measured(path)
    assert isinstance(result, ValueError), f"loaded, or raised {type(result).__name__}: {result}"
    assert re.search(match, str(result)), str(result)
    assert peak < limit, f"load_model allocated {peak / MB:.1f} MB before refusing"


def test_a_header_that_declares_a_huge_model_is_refused_before_allocating(model_file, tmp_path):
    # before: 33 s and 9.2 GB, the model built and initialised from the header
    src, _ = model_file
    bad = tmp_path / "big.fnn"
    hostile.oversized_header(src, bad, input_dim=40_000, units=20_000)
    assert os.path.getsize(bad) < 10_000
    assert_refused(bad, r"param/dense_1.W has shape \(6, 12\) and dtype float32; expected "
                        r"\(40000, 20000\) float32")


def test_an_unknown_entry_is_refused_without_decompressing_it(model_file, tmp_path):
    # before: loaded successfully, after inflating 2**28 floats (1 GB)
    src, _ = model_file
    bad = tmp_path / "junk.fnn"
    hostile.junk_entry(src, bad, n_floats=2 ** 24)
    assert_refused(bad, "holds entries this model does not have: junk", limit=2 * MB)


def test_a_declared_shape_of_2_40_rows_is_a_value_error(model_file, tmp_path):
    # before: MemoryError ("Unable to allocate 48.0 TiB")
    src, _ = model_file
    bad = tmp_path / "huge.fnn"
    hostile.huge_declared_shape(src, bad)
    assert_refused(bad, r"not a readable fastnn model file \(the entry param/dense_1.W.npy "
                        r"declares shape \(1099511627776, 12\)")


def test_a_deeply_nested_header_is_a_value_error(model_file, tmp_path):
    # before: RecursionError
    src, _ = model_file
    bad = tmp_path / "deep.fnn"
    hostile.deep_header(src, bad, depth=100_000)
    assert_refused(bad, "corrupt header .*nested too deeply", limit=16 * MB)


def test_a_header_of_100000_layers_fails_at_once(model_file, tmp_path):
    # before: 75 s (names compared pairwise) before failing
    src, _ = model_file
    bad = tmp_path / "many.fnn"
    hostile.many_layers(src, bad, n=100_000)
    start = time.perf_counter()
    assert_refused(bad, "corrupt header .*expected at most 4194304 bytes")
    assert time.perf_counter() - start < 10       # a wide bound: no timing test, a hang guard
    hostile.many_layers(src, bad, n=10_001)       # small enough a header: the layer count
    assert_refused(bad, "the header lists 10001 layers; a model has at most 10000", limit=64 * MB)


def test_unknown_header_fields_are_refused(model_file, tmp_path):
    src, _ = model_file
    entries = hostile.entries_of(src)
    header = hostile._header(entries)
    header["payload"] = list(range(10))
    bad = tmp_path / "extra.fnn"
    hostile.write_entries(bad, hostile.with_header(entries, header))
    assert_refused(bad, r"the header has unknown fields \['payload'\]")


def test_a_deflated_entry_declaring_more_than_deflate_can_hold_is_refused(model_file, tmp_path):
    src, _ = model_file
    entries = hostile.entries_of(src)
    bad = tmp_path / "ratio.fnn"
    hostile.write_entries(bad, entries, compress={"param/dense_1.W"})
    data = bytearray(bad.read_bytes())
    for record in hostile.central_directory(bytes(data)):
        name_len = struct.unpack_from("<H", data, record + 28)[0]
        if data[record + 46:record + 46 + name_len] == b"param/dense_1.W.npy":
            compressed = struct.unpack_from("<I", data, record + 20)[0]
            struct.pack_into("<I", data, record + 24, 1033 * compressed + 100)
    bad.write_bytes(bytes(data))
    assert_refused(bad, "param/dense_1.W.npy' declares .* more than its .* stored bytes can hold")


def test_entries_sharing_bytes_are_refused(model_file, tmp_path):
    # the "overlapping files" zip bomb: many central records, one stretch of data
    src, _ = model_file
    data = bytearray(src.read_bytes())
    records = hostile.central_directory(bytes(data))
    offsets = [struct.unpack_from("<I", data, r + 42)[0] for r in records]
    sizes = [struct.unpack_from("<I", data, r + 20)[0] for r in records]
    big = sizes.index(max(sizes))
    for r in records:
        struct.pack_into("<I", data, r + 42, offsets[big])
        struct.pack_into("<I", data, r + 20, sizes[big])
    bad = tmp_path / "overlap.fnn"
    bad.write_bytes(bytes(data))
    assert_refused(bad, "not a readable fastnn model file")


def test_a_re_compressed_model_file_loads_and_predicts_the_same(model_file, tmp_path):
    src, model = model_file
    entries = hostile.entries_of(src)
    zipped = tmp_path / "deflated.fnn"
    hostile.write_entries(zipped, entries, compress=set(entries))
    X = np.random.default_rng(1).standard_normal((9, 6)).astype(np.float32)
    np.testing.assert_array_equal(fn.load_model(zipped).predict_proba(X), model.predict_proba(X))


def test_loading_does_not_initialise_the_weights_it_is_about_to_overwrite(model_file, monkeypatch):
    src, model = model_file
    calls = []
    original = fn.Dense.bind

    def bind(self, buffer, rng):
        calls.append(rng)
        return original(self, buffer, rng)
    monkeypatch.setattr(fn.Dense, "bind", bind)
    loaded = fn.load_model(src)
    assert calls == [None, None]
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_a_model_file_lists_at_most_max_layers():
    with pytest.raises(ValueError, match="a model has at most 10000 layers; got 10001"):
        fn.Sequential([fn.Dropout(0.5) for _ in range(10_000)] + [fn.Dense(1)])


# -- the fuzzer ---------------------------------------------------------------------

# fields of a central directory record that a hostile file would change:
# (offset, struct format)
_CENTRAL_FIELDS = [(8, "<H"), (10, "<H"), (16, "<I"), (20, "<I"), (24, "<I"), (28, "<H"),
                   (30, "<H"), (42, "<I")]
_HUGE = [0, 1, 2 ** 16 - 1, 2 ** 31 - 1, 2 ** 32 - 1]

# header values a hostile file would put where sizes go
_SIZES = st.sampled_from([0, -1, 1, 7, 13, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 64, 1e300, -1e9,
                          None, True, "12", [12], {"a": 1}])
_HEADER_PATHS = [("model", "input_dim"), ("model", "layers", 0, "units"),
                 ("model", "layers", 3, "units"), ("model", "layers", 1, "eps"),
                 ("model", "dtype"), ("model", "seed"), ("optimizer", "state", "v"),
                 ("optimizer", "t"), ("epoch",), ("step",), ("model", "layers", 2, "keep_prob")]


def _set_path(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["byte", "central", "header", "entries"]))
    if kind == "byte":
        return kind, (draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(0, 255)))
    if kind == "central":
        return kind, (draw(st.integers(0, 9)), draw(st.sampled_from(_CENTRAL_FIELDS)),
                      draw(st.one_of(st.sampled_from(_HUGE), st.integers(0, 2 ** 32 - 1))))
    if kind == "header":
        return kind, (draw(st.sampled_from(_HEADER_PATHS)), draw(_SIZES))
    return kind, (draw(st.sampled_from(["drop", "junk", "rename", "reshape"])),
                  draw(st.integers(0, 9)), draw(st.integers(1, 2 ** 30)))


def mutate(data, mutation):
    kind, args = mutation
    if kind == "byte":
        where, value = args
        out = bytearray(data)
        out[int(where * len(out))] = value
        return bytes(out)
    if kind == "central":
        index, (field, fmt), value = args
        out = bytearray(data)
        records = hostile.central_directory(data)
        at = records[index % len(records)] + field
        value &= (1 << (8 * struct.calcsize(fmt))) - 1
        struct.pack_into(fmt, out, at, value)
        return bytes(out)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = {i.filename[:-4]: zf.read(i) for i in zf.infolist()}
    if kind == "header":
        path, value = args
        header = hostile._header(entries)
        try:
            _set_path(header, path, value)
        except (KeyError, IndexError, TypeError):
            pass
        entries = hostile.with_header(entries, header)
    else:
        action, index, n = args
        names = sorted(entries)
        name = names[index % len(names)]
        if action == "drop":
            entries.pop(name)
        elif action == "junk":
            entries[f"junk{n}"] = hostile.npy_header((n,)) + bytes(16)
        elif action == "rename":
            entries[f"param/x{n}.W"] = entries.pop(name)
        else:  # the entry's .npy header declares another shape
            entries[name] = hostile.npy_header((n, 3)) + entries[name][128:]
    hostile.write_entries(buf, entries)
    return buf.getvalue()


def _declared_model_bytes(data):
    """What the file's header declares the model to hold (parameters, gradients,
    optimizer state), in bytes: load_model may allocate that much."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            header = json.loads(np.lib.format.read_array(zf.open("__fastnn__.npy")).tobytes())
        layers, dim, total = header["model"]["layers"], header["model"]["input_dim"], 0
        for layer in layers:
            if layer.get("kind") == "dense":
                total += dim * layer["units"] + layer["units"]
                dim = layer["units"]
            elif layer.get("kind") == "batchnorm":
                total += 4 * dim
        return 8 * 6 * max(0, int(total))
    except Exception:            # noqa: BLE001 - an unreadable header declares nothing
        return 0


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=mutations())
def test_fuzzed_model_files_load_exactly_or_raise_value_error(model_file, tmp_path, mutation):
    src, model = model_file
    data = src.read_bytes()
    bad = tmp_path / "fuzzed.fnn"
    bad.write_bytes(mutate(data, mutation))
    result, peak = load_measured(bad)
    budget = 4 * len(data) + _declared_model_bytes(bad.read_bytes()) + 2 * MB
    assert peak <= budget, f"{mutation}: load_model allocated {peak} bytes (budget {budget})"
    if isinstance(result, Exception):
        assert type(result).__name__ == "ModelFileError", \
            f"{mutation}: {type(result).__name__}: {result}"
        assert str(result).startswith("load_model: ")
        return
    # it loaded: the mutation was harmless (a byte of no consequence, a header
    # value such as the seed) or changed what the header says the model is
    X = np.random.default_rng(2).standard_normal((5, result.input_dim or 6)).astype(result.dtype)
    if mutation[0] in ("byte", "central"):
        np.testing.assert_array_equal(result.predict_proba(X), model.predict_proba(X))
    else:
        assert np.all(np.isfinite(result.predict_proba(X)))


# -- interrupted saves -------------------------------------------------------------

def python(code, folder):
    """A fresh interpreter running ``code`` in ``folder`` with the fastnn under
    test (an in-tree build or the installed one; never a source checkout in
    the working folder, which has no compiled kernels)."""
    home = os.path.dirname(os.path.dirname(os.path.abspath(fn.__file__)))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=folder, env=dict(os.environ, PYTHONPATH=home))


def leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_a_save_removes_the_leftovers_of_killed_saves_to_the_same_path(tmp_path):
    model = fn.Sequential([fn.Dense(3)], input_dim=4, seed=0)
    for i in range(3):       # what a killed save leaves: an unlocked temporary file
        (tmp_path / f".m.fnn.fastnn-00000000000{i}.tmp").write_bytes(b"half")
    (tmp_path / ".other.fnn.fastnn-000000000000.tmp").write_bytes(b"another path's")
    model.save(tmp_path / "m.fnn")
    assert leftovers(tmp_path) == [".other.fnn.fastnn-000000000000.tmp"]
    assert sorted(os.listdir(tmp_path))[-1] == "m.fnn"


@pytest.mark.skipif(os.name != "posix", reason="leftovers are told apart by POSIX file locks")
def test_a_save_in_progress_in_another_process_is_left_alone(tmp_path):
    # the other process is in the middle of writing: its temporary file stays
    code = textwrap.dedent(f"""
        import sys, time, numpy as np, fastnn as fn
        model = fn.Sequential([fn.Dense(3)], input_dim=4, seed=0)
        real = np.savez
        def slow(f, **arrays):
            print("writing", flush=True)
            time.sleep(3)
            real(f, **arrays)
        np.savez = slow
        model.save({str(tmp_path / 'm.fnn')!r})
        print("saved", flush=True)
    """)
    other = python(code, tmp_path)
    assert other.stdout.readline().strip() == "writing"
    assert len(leftovers(tmp_path)) == 1
    fn.Sequential([fn.Dense(3)], input_dim=4, seed=1).save(tmp_path / "m.fnn")
    assert len(leftovers(tmp_path)) == 1                   # not removed under its writer
    assert other.stdout.readline().strip() == "saved"
    assert other.wait(30) == 0
    assert leftovers(tmp_path) == []
    fn.load_model(tmp_path / "m.fnn")


@pytest.mark.skipif(os.name != "posix", reason="leftovers are told apart by POSIX file locks")
def test_saves_killed_with_sigkill_leave_nothing_after_the_next_save(tmp_path):
    # before: each kill left a .fastnn-XXXX.tmp file forever
    code = textwrap.dedent(f"""
        import numpy as np, fastnn as fn
        model = fn.Sequential([fn.Dense(512), fn.Dense(512), fn.Dense(2)], input_dim=512, seed=0)
        print("ready", flush=True)
        while True:
            model.save({str(tmp_path / 'm.fnn')!r})
    """)
    fn.Sequential([fn.Dense(2)], input_dim=3, seed=0).save(tmp_path / "m.fnn")
    killed_with_leftover = 0
    for attempt in range(8):
        proc = python(code, tmp_path)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_with_leftover += bool(leftovers(tmp_path))
    assert killed_with_leftover >= 4                      # the kills did land mid-save
    fn.load_model(tmp_path / "m.fnn")                     # whatever was last renamed is whole
    fn.Sequential([fn.Dense(2)], input_dim=3, seed=0).save(tmp_path / "m.fnn")
    assert leftovers(tmp_path) == []


def test_an_npy_header_length_of_4_gb_is_refused_before_reading_it(model_file, tmp_path):
    # a version 2.0 .npy header length is 4 bytes: numpy reads that many bytes
    # before it checks them; a 1 MB deflated entry held 1 GB of spaces
    src, _ = model_file
    entries = hostile.entries_of(src)

    def bomb(f):
        f.write(b"\x93NUMPY\x02\x00" + (0xFFFFFFF0).to_bytes(4, "little"))
        chunk = b" " * (1 << 20)
        for _ in range(64):
            f.write(chunk)
    entries["__fastnn__"] = bomb
    bad = tmp_path / "bomb.fnn"
    hostile.write_entries(bad, entries, compress={"__fastnn__"})
    assert_refused(bad, r"declares an .npy header of 4294967280 bytes \(at most 10000\)",
                   limit=2 * MB)


def test_a_header_integer_of_5000_digits_is_a_model_file_error(model_file, tmp_path):
    src, _ = model_file
    entries = hostile.entries_of(src)
    text = json.dumps(hostile._header(entries)).replace('"epoch": 1', '"epoch": ' + "9" * 5000)
    bad = tmp_path / "digits.fnn"
    hostile.write_entries(bad, hostile.with_header(entries, text))
    assert_refused(bad, "has a corrupt header")
