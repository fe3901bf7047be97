"""Hostile model files, made from a real one: each asks the loader for far
more memory or work than the file's size justifies.  Used by
test_serialization_untrusted.py and by hand to measure load_model:

    python tests/hostile_files.py OUT_FOLDER     # writes the files, prints their sizes
"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

HEADER = "__fastnn__"


def central_directory(data):
    """Offsets of the central directory records of a zip file's bytes."""
    end = data.rindex(b"PK\x05\x06")
    count, _, start = struct.unpack("<HII", data[end + 10:end + 20])
    offsets = []
    for _ in range(count):
        assert data[start:start + 4] == b"PK\x01\x02"
        offsets.append(start)
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[start + 28:start + 34])
        start += 46 + name_len + extra_len + comment_len
    return offsets


def entries_of(path):
    """{entry name without .npy: raw bytes of the .npy} of a model file."""
    with zipfile.ZipFile(path) as zf:
        return {info.filename[:-4]: zf.read(info) for info in zf.infolist()}


def write_entries(path, entries, compress=None):
    """Write {name: .npy bytes or a callable writing them to a file} as a zip;
    ``compress``: names to deflate (zip64 allowed, as np.savez does)."""
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for name, data in entries.items():
            method = zipfile.ZIP_DEFLATED if name in (compress or ()) else zipfile.ZIP_STORED
            if callable(data):
                info = zipfile.ZipInfo(name + ".npy")
                info.compress_type = method
                with zf.open(info, "w", force_zip64=True) as f:
                    data(f)
            else:
                zf.writestr(zipfile.ZipInfo(name + ".npy"), data, compress_type=method)


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def npy_header(shape, dtype="<f4"):
    """The bytes of a .npy header declaring ``shape`` (no data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _header(entries):
    data = entries[HEADER]
    f = io.BytesIO(data)
    return json.loads(np.lib.format.read_array(f).tobytes().decode())


def with_header(entries, header):
    """``entries`` with the header replaced by ``header`` (a dict or raw JSON text)."""
    text = header if isinstance(header, str) else json.dumps(header)
    out = dict(entries)
    out[HEADER] = npy(np.frombuffer(text.encode(), np.uint8))
    return out


def oversized_header(src, dst, input_dim=40_000, units=20_000):
    """Item 1: a small file whose header declares a huge first layer."""
    entries = entries_of(src)
    header = _header(entries)
    header["model"]["input_dim"] = input_dim
    header["model"]["layers"][0]["units"] = units
    write_entries(dst, with_header(entries, header))


def junk_entry(src, dst, n_floats=2 ** 28):
    """Item 2: a valid model plus an unused deflated entry of ``n_floats`` zeros."""
    entries = entries_of(src)

    def zeros(f):
        f.write(npy_header((n_floats,)))
        chunk = bytes(1 << 22)
        left = 4 * n_floats
        while left:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))
    entries["junk"] = zeros
    write_entries(dst, entries, compress={"junk"})


def huge_declared_shape(src, dst, key="param/dense_1.W"):
    """Item 7: an entry whose .npy header declares 2**40 rows (and holds 8 bytes)."""
    entries = entries_of(src)
    entries[key] = npy_header((2 ** 40, 12)) + bytes(8)
    write_entries(dst, entries)


def deep_header(src, dst, depth=1000):
    """Item 7: a header nested ``depth`` lists deep."""
    entries = entries_of(src)
    header = _header(entries)
    text = json.dumps(header)
    nested = "[" * depth + "]" * depth
    write_entries(dst, with_header(entries, text[:-1] + f', "extra": {nested}}}'))


def many_layers(src, dst, n=100_000):
    """Item 7: a header listing ``n`` Dense layers of one unit."""
    entries = entries_of(src)
    header = _header(entries)
    header["model"]["layers"] = ([{"kind": "dense", "name": None, "units": 1,
                                   "activation": "relu", "init": "he", "use_bias": True,
                                   "negative_slope": 0.01}] * (n - 1)
                                 + [dict(header["model"]["layers"][-1], name=None)])
    write_entries(dst, with_header(entries, header))


def small_model_file(path):
    import fastnn as fn
    model = fn.Sequential([fn.Dense(12, "relu"), fn.BatchNorm(), fn.Dropout(0.8),
                           fn.Dense(4, "softmax", init="xavier")], input_dim=6, seed=0)
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((64, 6)).astype(np.float32), rng.integers(0, 4, 64),
              optimizer=fn.Adam(0.01), epochs=1, verbose=0)
    model.save(path)
    return model


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    src = os.path.join(out, "small.fnn")
    small_model_file(src)
    makers = {"item1_oversized_header.fnn": oversized_header,
              "item2_junk_entry.fnn": junk_entry,
              "item7_huge_shape.fnn": huge_declared_shape,
              "item7_deep_header.fnn": deep_header,
              "item7_many_layers.fnn": many_layers}
    for name, make in makers.items():
        make(src, os.path.join(out, name))
        print(f"{name}: {os.path.getsize(os.path.join(out, name)):,} bytes")
