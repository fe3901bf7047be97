"""The fastnn model file: one ``.npz`` archive, read without pickle.

Entries (all plain NumPy arrays; ``np.load(path, allow_pickle=False)`` opens it):

- ``__fastnn__``: uint8 bytes of a UTF-8 JSON header: ``format``
  ("fastnn-model"), ``version``, the model config (layers, input_dim, dtype,
  seed), ``epoch``, ``step``, ``loss``, the shuffling and augmentation RNG states, the
  optimizer's state without its arrays, and the names of the array entries.
- ``param/<layer>.<name>``: trainable parameters (W, b, gamma, beta).
- ``state/<layer>.<name>``: running statistics (BatchNorm running_mean/var).
- ``optim/<state>/<i>``: optimizer state arrays (v, s).
- ``normalizer/<name>``: arrays of an attached input normalizer.

Writes go to a temporary file in the target's folder, are flushed to disk,
and then renamed over the target: a crash leaves the old file or the new
one, never half of one.  A save killed midway leaves its temporary file
(``.<name>.fastnn-<random>.tmp``); the next save to the same path removes
it, and never the file of a save still running (POSIX file locks tell them
apart).  The file gets the mode of any new file (or keeps
the one of the file it replaces); saving to a symlink replaces its target.

Loading treats the file as untrusted: the entry table and the header are
checked first, the model's layout is worked out from the header without
allocating it, and every entry must be one that layout names, declaring
exactly its shape and dtype, before anything is allocated or decompressed
(see "reading" below).  A damaged or hostile file fails in load_model with
a ValueError naming what is wrong.
"""
import io
import json
import os
import secrets
import stat
import struct
import zipfile
import zlib
from math import prod

import numpy as np

from fastnn._validation import all_finite

FORMAT = "fastnn-model"
VERSION = 1
_HEADER = "__fastnn__"

_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


try:
    import fcntl
except ImportError:          # Windows: interrupted saves' temporary files stay
    fcntl = None


def _temp_prefix(target):
    # the target's name, so that a later save to it finds the leftovers of
    # interrupted ones; cut so that prefix + suffix fit in a file name
    return f".{os.path.basename(target)[:200]}.fastnn-"


def _create_temp(target, mode, func):
    """A new file ``.<target's name>.fastnn-<random>.tmp`` next to ``target``,
    created with ``mode`` (the umask applies), opened for writing and locked
    for as long as it is open: (fd, name)."""
    folder, prefix = os.path.dirname(target), _temp_prefix(target)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, _TEMP_FLAGS, mode)
        except FileExistsError:
            continue
        if fcntl is None:
            return fd, tmp
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # a cleanup by another save may have taken it between open and lock
            if os.fstat(fd).st_ino == os.lstat(tmp).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        except OSError:          # a file system without locks
            return fd, tmp
        os.close(fd)
    raise FileExistsError(f"{func}: no free temporary file name in {folder}")


def _remove_leftovers(target):
    """Remove the temporary files of saves to ``target`` that were killed.

    A save holds a lock on its temporary file while it writes (and renames
    it); the lock goes when its process does.  So a temporary file whose lock
    can be taken belongs to a dead save; one that is locked is another
    process's save in progress, and stays."""
    if fcntl is None:
        return
    folder, prefix = os.path.dirname(target), _temp_prefix(target)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(folder, name)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:          # gone already, or not ours to read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.fstat(fd).st_ino == os.lstat(tmp).st_ino:
                os.unlink(tmp)
        except OSError:          # locked: a save in progress
            pass
        finally:
            os.close(fd)


def check_writable(path, func="save"):
    """The file ``atomic_write(path)`` replaces (a symlink resolved), after
    checking that it can be created there: the folder exists and ``path`` is
    not a folder.  Raises naming ``path`` (a failed temporary file would name
    itself instead)."""
    path = os.fspath(path)
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise NotADirectoryError(f"{func}: cannot write {path}: {folder} is not a folder")
        raise FileNotFoundError(f"{func}: cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"{func}: cannot write {path}: it is a folder")
    return target


def atomic_write(path, write, func="save"):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it
    over ``path``.  On any error the temporary file is removed and ``path`` is
    untouched.

    The file gets the mode a newly created file gets (0666 minus the umask),
    or keeps the mode of the file it replaces.  A symlink ``path`` stays a
    link: the file it points to is replaced.  ``func`` names the caller in
    error messages."""
    path = os.fspath(path)
    target = check_writable(path, func)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    # Not tempfile.mkstemp: it creates the file 0600 and the saved file would keep that.
    # A new file is created 0666 and the kernel applies the umask (and a default ACL of
    # the folder) as for any file, without reading the process-wide umask (os.umask can
    # only be read by changing it, racing other threads).  Replacing a file, the
    # temporary one starts 0600 so the new contents are never readable by more users
    # than the old file allowed, and then takes the old file's mode.
    _remove_leftovers(target)
    fd, tmp = _create_temp(target, 0o666 if mode is None else 0o600, func)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
            # renamed while still open, hence locked: never taken for a leftover
            os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_model(model, path):
    arrays = {}
    for name, value in model.params.items():
        arrays[f"param/{name}"] = value
    for layer in model.layers:
        for name, value in layer.state_arrays().items():
            arrays[f"state/{layer.name}.{name}"] = value
    optimizer = None
    if model.optimizer is not None:
        sd = model.optimizer.state_dict()
        state = sd.pop("state")
        sd["state"] = {}
        for key, values in state.items():
            sd["state"][key] = None if values is None else len(values)
            for i, value in enumerate(values or []):
                arrays[f"optim/{key}/{i}"] = value
        optimizer = sd
    normalizer = None
    if model.normalizer is not None:
        config, norm_arrays = model.normalizer.to_arrays()
        normalizer = config
        for name, value in norm_arrays.items():
            arrays[f"normalizer/{name}"] = value
    header = {
        "format": FORMAT, "version": VERSION, "model": model.get_config(),
        **model.training_counters(), "loss": model.loss,
        "optimizer": optimizer, "normalizer": normalizer,
        "classes": None if model.classes_ is None else [str(c) for c in model.classes_],
    }
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


# -- reading: untrusted input ---------------------------------------------------
#
# Model files are shared like any download, so the loader does no work and
# allocates no memory that the file has not justified first:
# 1. The zip's entry table: every entry an .npy, stored or deflated, not
#    encrypted, with sizes the file can hold (a stored entry's bytes are in
#    the file; deflate cannot expand more than 1032:1; entries do not overlap).
# 2. The header (bounded size and nesting), from which the model's layout is
#    worked out without allocating it: the exact set of entries and each
#    one's shape and dtype.  An unknown or missing entry is refused, and each
#    entry's .npy header (a few hundred bytes) must declare exactly its shape
#    and dtype, and its size in the zip exactly the bytes these imply.
# 3. Only then is the model allocated (without random initialization) and
#    each entry read straight into its place, a chunk at a time.
# np.load is not used: it decompresses every entry, named or not, and
# allocates whatever an entry's .npy header declares.

_MAX_NPY_HEADER = 10_000         # numpy's own bound on an .npy header it parses
_MAX_HEADER_BYTES = 4 << 20       # the header of a model of 10,000 layers (the most) is ~1.5 MB
_DEFLATE_MAX_RATIO = 1032         # zlib's bound on deflate's expansion
_CHUNK = 1 << 20

# What zipfile, zlib and numpy raise on a damaged archive (a flipped byte in the
# central directory can claim encryption, an unknown compression method, a bad
# size or offset).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
               io.UnsupportedOperation, RuntimeError, NotImplementedError, zlib.error,
               KeyError, struct.error, OverflowError, ValueError, SyntaxError)


class ModelFileError(ValueError):
    """What load_model raises for a file it will not load (a ValueError)."""


class _Unreadable(Exception):
    """The archive itself is broken (reported as "not a readable model file")."""


class _Archive:
    """The entries of a model file, checked before any is read.

    ``entries``: {name without ".npy": ZipInfo}.
    """

    def __init__(self, path):
        self.path = path
        self._data_at = {}
        with open(path, "rb") as f:
            magic = f.read(6)
            f.seek(0, os.SEEK_END)
            size = f.tell()
        if magic == b"\x93NUMPY":
            raise ModelFileError(f"load_model: {path} is not a fastnn model file (an .npy array, "
                             f"not an .npz archive)")
        if not magic.startswith(b"PK"):
            raise ModelFileError(f"load_model: {path} is not a fastnn model file (not an .npz "
                             f"archive of plain arrays)")
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            # it starts as a zip archive, and its end (the entry table) is missing
            raise ModelFileError(f"load_model: {path} is truncated: the file ends before its "
                                 f"table of entries ({size} bytes).  Was it copied or "
                                 f"downloaded completely?  Copy it again") from None
        except _ZIP_ERRORS as exc:
            raise _unreadable(path, exc) from None
        try:
            self.entries = self._check_table(self.zip.infolist(), size)
        except _ZIP_ERRORS as exc:
            self.zip.close()
            raise _unreadable(path, exc) from None
        except _Unreadable as exc:
            self.zip.close()
            raise _unreadable(path, exc) from None

    @staticmethod
    def _check_table(infos, file_size):
        entries = {}
        stored_total = 0
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise _Unreadable(f"the entry {name!r} is not an .npy array")
            if name[:-4] in entries:
                raise _Unreadable(f"the entry {name!r} appears twice")
            if info.flag_bits & 0x1:
                raise _Unreadable(f"the entry {name!r} is encrypted")
            if info.compress_type == zipfile.ZIP_STORED:
                limit = info.compress_size
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                limit = _DEFLATE_MAX_RATIO * info.compress_size + 64
            else:
                raise _Unreadable(f"the entry {name!r} uses compression method "
                                  f"{info.compress_type}; expected stored or deflated")
            if info.file_size > limit:
                raise _Unreadable(f"the entry {name!r} declares {info.file_size} bytes, more "
                                  f"than its {info.compress_size} stored bytes can hold")
            stored_total += info.compress_size
            if info.header_offset + info.compress_size > file_size or stored_total > file_size:
                raise _Unreadable(f"the entry {name!r} claims bytes beyond the end of the file "
                                  f"or shared with another entry")
            entries[name[:-4]] = info
        return entries

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def _open(self, key):
        """The entry's stream positioned after its .npy header, and (shape, dtype)."""
        info = self.entries[key]
        f = self.zip.open(info)
        try:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise _Unreadable(f"the entry {key}.npy is .npy version {version}; expected 1.0 "
                                  f"or 2.0")
            # numpy reads as many header bytes as the length field says before
            # it checks them: bound the length first (a 4-byte one can say 4 GB)
            width = 2 if version == (1, 0) else 4
            length_bytes = f.read(width)
            length = int.from_bytes(length_bytes, "little") if len(length_bytes) == width else -1
            if not 0 <= length <= _MAX_NPY_HEADER:
                raise _Unreadable(f"the entry {key}.npy declares an .npy header of {length} bytes "
                                  f"(at most {_MAX_NPY_HEADER})")
            header = io.BytesIO(length_bytes + f.read(length))
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(header, max_header_size=_MAX_NPY_HEADER)
            if fortran and len(shape) > 1:
                raise _Unreadable(f"the entry {key}.npy is in Fortran order")
            if dtype.hasobject:
                raise _Unreadable(f"the entry {key}.npy holds Python objects")
            nbytes = dtype.itemsize * prod(shape)
            if info.file_size != f.tell() + nbytes:
                raise _Unreadable(f"the entry {key}.npy declares shape {shape} ({nbytes} bytes) "
                                  f"but holds {info.file_size - f.tell()} bytes")
        except BaseException:
            f.close()
            raise
        return f, shape, dtype

    def declared(self, key):
        """(shape, dtype) of entry ``key``, from its .npy header alone."""
        try:
            f, shape, dtype = self._open(key)
            self._data_at[key] = f.tell()
            f.close()
        except _ZIP_ERRORS + (_Unreadable,) as exc:
            raise _unreadable(self.path, exc) from None
        return shape, dtype

    def read_into(self, key, target):
        """Read entry ``key`` into the C-contiguous array ``target`` (its shape
        and dtype already checked against the entry's)."""
        try:
            if key in self._data_at:     # its .npy header was checked by declared()
                f = self.zip.open(self.entries[key])
                f.read(self._data_at[key])
            else:
                f, _, _ = self._open(key)
            with f:
                view = memoryview(target.reshape(-1).view(np.uint8))
                for start in range(0, len(view), _CHUNK):
                    part = view[start:start + _CHUNK]
                    if f.readinto(part) != len(part):
                        raise EOFError(f"the entry {key}.npy ends early")
                f.read(1)   # at the end: zipfile checks the CRC
        except _ZIP_ERRORS + (_Unreadable,) as exc:
            raise _unreadable(self.path, exc) from None
        return target

    def read_header(self):
        if _HEADER not in self.entries:
            raise ModelFileError(f"load_model: {self.path} is not a fastnn model file (no {_HEADER} "
                             f"entry)")
        shape, dtype = self.declared(_HEADER)
        if dtype != np.uint8 or len(shape) != 1 or shape[0] > _MAX_HEADER_BYTES:
            raise ModelFileError(f"load_model: {self.path} has a corrupt header (expected at most "
                             f"{_MAX_HEADER_BYTES} bytes of uint8; got shape {shape} {dtype})")
        text = self.read_into(_HEADER, np.empty(shape, np.uint8)).tobytes()
        try:
            header = json.loads(text.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            # ValueError: bad UTF-8, bad JSON, an integer of over 4300 digits
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise ModelFileError(f"load_model: {self.path} has a corrupt header ({reason})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelFileError(f"load_model: {self.path} is not a fastnn model file")
        version = header.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            from fastnn import __version__
            raise ModelFileError(f"load_model: {self.path} was written by a newer fastnn (model "
                                 f"file format {version}; this fastnn {__version__} reads format "
                                 f"{VERSION}): upgrade fastnn (pip install -U fastnn) to load it")
        if version != VERSION:
            raise ModelFileError(f"load_model: {self.path} has an unknown model file format "
                                 f"{version!r} (this fastnn reads format {VERSION})")
        unknown = sorted(set(header) - _HEADER_FIELDS)
        if unknown:
            raise ModelFileError(f"load_model: {self.path} is damaged or incomplete: the header has "
                             f"unknown fields {unknown}")
        return header


_HEADER_FIELDS = {"format", "version", "model", "epoch", "step", "shuffle_rng", "augment_rng",
                  "loss", "optimizer", "normalizer", "classes"}


def _unreadable(path, exc):
    return ModelFileError(f"load_model: {path} is not a readable fastnn model file ({exc})")


def _finite(key, value, nonnegative=False, positive=False):
    if not all_finite(value):
        raise ValueError(f"{key} contains NaN or Inf")
    if nonnegative and np.any(value < 0):
        raise ValueError(f"{key} has negative values")
    if positive and np.any(value <= 0):
        raise ValueError(f"{key} has values <= 0")
    return value


def _plan(header, model_cls, layer_from_config):
    """The model described by the header, unbuilt, and the entries its file
    must hold: {key: (shape, dtype)}, worked out without allocating."""
    from fastnn import optim
    from fastnn.preprocessing import normalizer_entries

    config = header["model"]
    if not isinstance(config, dict) or not isinstance(config["layers"], list):
        raise ValueError(f"the header's model must be a dict with a list of layers; got "
                         f"{type(config).__name__}")
    if len(config["layers"]) > model_cls.max_layers:
        raise ValueError(f"the header lists {len(config['layers'])} layers; a model has at most "
                         f"{model_cls.max_layers}")
    layers = []
    for c in config["layers"]:
        if not isinstance(c, dict):
            raise ValueError(f"each layer config must be a dict; got {type(c).__name__}")
        layers.append(layer_from_config(c))
    model = model_cls(layers, dtype=config["dtype"], seed=config["seed"])
    if config["input_dim"] is None:
        raise ValueError("the model config has no input_dim")
    model.layout(config["input_dim"])
    dtype = model.dtype
    expected = {}
    for layer in model.layers:
        for suffix, shape in layer.param_shapes():
            expected[f"param/{layer.name}.{suffix}"] = (shape, dtype)
        for suffix, shape in layer.state_shapes().items():
            expected[f"state/{layer.name}.{suffix}"] = (shape, dtype)
    n_params = sum(prod(shape) for key, (shape, _) in expected.items() if key.startswith("param/"))
    if header["optimizer"] is not None:
        sd = header["optimizer"]
        if not isinstance(sd, dict) or not isinstance(sd.get("state"), dict):
            raise ValueError(f"the optimizer header must be a dict with a 'state' dict; got "
                             f"{type(sd).__name__}")
        names = optim.from_config(sd).state_names
        if set(sd["state"]) != set(names):
            raise ValueError(f"the optimizer's state must list {list(names)}; the header lists "
                             f"{sorted(map(str, sd['state']))}")
        for key, n in sd["state"].items():
            if n is None:
                continue
            # the optimizer steps on the whole parameter buffer: one flat array per key
            if n != 1 or isinstance(n, bool):
                raise ValueError(f"optimizer state {key!r} must be one flat array for the "
                                 f"model's parameter buffer; the header lists {n!r}")
            expected[f"optim/{key}/0"] = ((n_params,), dtype)
    if header["normalizer"] is not None:
        if not isinstance(header["normalizer"], dict):
            raise ValueError("the header's normalizer must be a dict")
        for name, (shape, dt) in normalizer_entries(header["normalizer"],
                                                    config["input_dim"]).items():
            expected[f"normalizer/{name}"] = (shape, np.dtype(dt))
    return model, expected


def _classes(classes, n_out):
    """The header's text labels (files from before they were saved have none)."""
    if classes is None:
        return None
    needed = 2 if n_out == 1 else n_out       # one per output unit; 2 for one sigmoid unit
    if (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)
            or len(set(classes)) != len(classes) or len(classes) != needed
            or classes != sorted(classes)):
        raise ValueError(f"the header's classes must be {needed} distinct sorted labels, one per "
                         f"output; got {classes!r:.200}")
    return np.array(classes, dtype=str)


def _check_entries(archive, expected):
    """Every entry the header implies is there, declares exactly its shape and
    dtype, and there is no other."""
    unknown = sorted(set(archive.entries) - set(expected) - {_HEADER})
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(f"the file holds entries this model does not have: "
                         f"{', '.join(unknown[:5])}{more}")
    for key, (shape, dtype) in expected.items():
        if key not in archive.entries:
            raise ValueError(f"the entry {key} is missing")
        got_shape, got_dtype = archive.declared(key)
        if got_shape != tuple(shape) or got_dtype != dtype:
            raise ValueError(f"{key} has shape {got_shape} and dtype {got_dtype}; expected "
                             f"{tuple(shape)} {dtype}")


def load_model(path, model_cls, layer_from_config):
    from fastnn import losses, optim
    from fastnn.preprocessing import normalizer_from_arrays

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_model: {path} is a folder, not a model file")
    with _Archive(path) as archive:
        header = archive.read_header()
        try:
            model, expected = _plan(header, model_cls, layer_from_config)
            _check_entries(archive, expected)
            # nothing has been allocated so far; the entries justify the model's size
            model.build(header["model"]["input_dim"], initialize=False)
            for name in model.params.names:
                key = f"param/{name}"
                _finite(key, archive.read_into(key, model.params[name]))
            for layer in model.layers:
                for name, target in layer.state_arrays().items():
                    key = f"state/{layer.name}.{name}"
                    _finite(key, archive.read_into(key, target), nonnegative=name == "running_var")
            if header["optimizer"] is not None:
                sd = dict(header["optimizer"])
                sd["state"] = {}
                for key, n in header["optimizer"]["state"].items():
                    if n is None:
                        sd["state"][key] = None
                        continue
                    entry = f"optim/{key}/0"
                    # s of RMSprop and Adam is a running mean of g**2: its sqrt is taken
                    sd["state"][key] = [_finite(entry, archive.read_into(entry, np.empty(*expected[entry])),
                                                nonnegative=key == "s")]
                model.optimizer = optim.from_state_dict(sd)
            if header["normalizer"] is not None:
                arrays = {}
                for key, (shape, dtype) in expected.items():
                    if key.startswith("normalizer/"):
                        name = key[len("normalizer/"):]
                        arrays[name] = _finite(key, archive.read_into(key, np.empty(shape, dtype)),
                                               positive=name == "scale")
                model.normalizer = normalizer_from_arrays(header["normalizer"], arrays)
            for key in ("epoch", "step"):
                value = header[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"the header's {key} must be an integer >= 0; got {value!r}")
            if header["loss"] is not None:
                losses.get(header["loss"], model.output_layer.activation, "the header's loss")
            model.loss = header["loss"]
            model.classes_ = _classes(header.get("classes"), model.output_dim)
            model.set_training_counters(header)
        except ModelFileError:
            raise
        except KeyError as exc:
            raise ModelFileError(f"load_model: {path} is damaged or incomplete: the header has no "
                             f"field {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(f"load_model: {path} is damaged or incomplete: {exc}") from None
    return model
