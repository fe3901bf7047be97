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
one, never half of one.  The file gets the mode of any new file (or keeps
the one of the file it replaces); saving to a symlink replaces its target.

Loading checks every entry against the model it rebuilds (shape, dtype,
finite values), so a damaged file fails in load_model, naming the entry.
"""
import io
import json
import os
import secrets
import stat
import struct
import zipfile
import zlib

import numpy as np

from fastnn._validation import all_finite

FORMAT = "fastnn-model"
VERSION = 1
_HEADER = "__fastnn__"

_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


def _create_temp(folder, mode, func):
    """A new file ``folder/.fastnn-<random>.tmp`` created with ``mode`` (the
    umask applies) and opened for writing: (fd, name)."""
    for _ in range(100):
        tmp = os.path.join(folder, f".fastnn-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{func}: no free temporary file name in {folder}")


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
    folder = os.path.dirname(target)
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
    fd, tmp = _create_temp(folder, 0o666 if mode is None else 0o600, func)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
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
        **model._training_counters(), "loss": model.loss,
        "optimizer": optimizer, "normalizer": normalizer,
    }
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


# What zipfile, zlib and numpy raise on a damaged archive (a flipped byte in the
# central directory can claim encryption, an unknown compression method, a bad
# size or offset).  ValueError is told apart in _unreadable.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
               io.UnsupportedOperation, RuntimeError, NotImplementedError, zlib.error,
               KeyError, struct.error, OverflowError)


def _unreadable(path, exc):
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        # np.load reads a file that is neither .npy nor .npz as a pickle, and refuses
        return ValueError(f"load_model: {path} is not a fastnn model file (not an .npz "
                          f"archive of plain arrays)")
    return ValueError(f"load_model: {path} is not a readable fastnn model file ({exc})")


class _Entries(dict):
    """The archive's arrays; a missing one is a ValueError naming the entry."""

    def __init__(self, items=(), prefix=""):
        super().__init__(items)
        self.prefix = prefix

    def __missing__(self, key):
        raise ValueError(f"the entry {self.prefix}{key} is missing")


def _read(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, *_ZIP_ERRORS) as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        # an .npy file: np.load returns its array, not an archive
        raise ValueError(f"load_model: {path} is not a fastnn model file (an .npy array "
                         f"{getattr(archive, 'shape', '')}, not an .npz archive)")
    with archive:
        if _HEADER not in archive.files:
            raise ValueError(f"load_model: {path} is not a fastnn model file (no {_HEADER} entry)")
        try:
            arrays = _Entries((name, archive[name]) for name in archive.files)
        except (ValueError, *_ZIP_ERRORS) as exc:
            raise _unreadable(path, exc) from None
    try:
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_model: {path} has a corrupt header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"load_model: {path} is not a fastnn model file")
    if header.get("version") != VERSION:
        raise ValueError(f"load_model: {path} is format version {header.get('version')}; "
                         f"this fastnn reads version {VERSION}")
    return header, arrays


def _checked(arrays, key, target, nonnegative=False):
    """The entry ``key``, checked against the array it will be copied into:
    the same shape (no broadcasting), the same dtype (no rounding), finite."""
    value = arrays[key]
    if value.shape != target.shape or value.dtype != target.dtype:
        raise ValueError(f"{key} has shape {value.shape} and dtype {value.dtype}; expected "
                         f"{target.shape} {target.dtype}")
    if not all_finite(value):
        raise ValueError(f"{key} contains NaN or Inf")
    if nonnegative and np.any(value < 0):
        raise ValueError(f"{key} has negative values")
    return value


def _optimizer_state(header, arrays, model):
    """The optimizer's state dict with its arrays, checked against the model.

    A model's optimizer steps on its whole ParameterBuffer, so each state key
    holds one flat array laid out as ``model.params.flat()`` (see
    Optimizer._bind_state); anything else would fail only inside fit."""
    sd = header["optimizer"]
    if not isinstance(sd, dict) or not isinstance(sd.get("state"), dict):
        raise ValueError(f"the optimizer header must be a dict with a 'state' dict; got {sd!r}")
    sd = dict(sd)
    flat = model.params.flat()
    state = {}
    for key, n in sd["state"].items():
        if n is None:
            state[key] = None
            continue
        if n != 1 or isinstance(n, bool):
            raise ValueError(f"optimizer state {key!r} must be one flat array for the model's "
                             f"parameter buffer; the header lists {n!r}")
        # s of RMSprop and Adam is a running mean of g**2: its sqrt is taken
        state[key] = [_checked(arrays, f"optim/{key}/0", flat, nonnegative=key == "s")]
    sd["state"] = state
    return sd


def load_model(path, model_cls, layer_from_config):
    from fastnn import optim
    from fastnn.preprocessing import normalizer_from_arrays

    header, arrays = _read(path)
    try:
        config = header["model"]
        layers = [layer_from_config(c) for c in config["layers"]]
        model = model_cls(layers, input_dim=config["input_dim"], dtype=config["dtype"],
                          seed=config["seed"])
        if model.params is None:
            raise ValueError("the model config has no input_dim")
        for name in model.params.names:
            model.params[name][...] = _checked(arrays, f"param/{name}", model.params[name])
        for layer in model.layers:
            for name, target in layer.state_arrays().items():
                target[...] = _checked(arrays, f"state/{layer.name}.{name}", target,
                                       nonnegative=name == "running_var")
        if header["optimizer"] is not None:
            model.optimizer = optim.from_state_dict(_optimizer_state(header, arrays, model))
        if header["normalizer"] is not None:
            prefix = "normalizer/"
            model.normalizer = normalizer_from_arrays(
                header["normalizer"],
                _Entries(((k[len(prefix):], v) for k, v in arrays.items() if k.startswith(prefix)),
                         prefix))
        for key in ("epoch", "step"):
            value = header[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"the header's {key} must be an integer >= 0; got {value!r}")
        if header["loss"] is not None:
            from fastnn import losses
            losses.get(header["loss"], model.output_layer.activation, "the header's loss")
        model.loss = header["loss"]
        model._set_training_counters(header)
    except KeyError as exc:
        raise ValueError(f"load_model: {path} is damaged or incomplete: the header has no "
                         f"field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"load_model: {path} is damaged or incomplete: {exc}") from None
    return model
