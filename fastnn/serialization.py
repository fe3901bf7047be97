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
one, never half of one.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "fastnn-model"
VERSION = 1
_HEADER = "__fastnn__"


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it
    over ``path``.  On any error the temporary file is removed and ``path`` is
    untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
        "epoch": model.epoch, "step": model.step, "loss": model.loss,
        "shuffle_rng": model._shuffle_rng.bit_generator.state,
        "augment_rng": model._augment_rng.bit_generator.state,
        "optimizer": optimizer, "normalizer": normalizer,
    }
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or _HEADER not in archive.files:
                raise ValueError(f"load_model: {path} is not a fastnn model file (no {_HEADER} entry)")
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, io.UnsupportedOperation) as exc:
        raise ValueError(f"load_model: {path} is not a readable fastnn model file ({exc})") from None
    except ValueError as exc:
        if "fastnn" in str(exc):
            raise
        # np.load reads a non-.npz file as a pickle and refuses: not our format
        raise ValueError(f"load_model: {path} is not a fastnn model file (not an .npz archive "
                         f"of plain arrays)") from None
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


def load_model(path, model_cls, layer_from_config):
    from fastnn import optim
    from fastnn.preprocessing import normalizer_from_arrays

    header, arrays = _read(path)
    try:
        config = header["model"]
        layers = [layer_from_config(c) for c in config["layers"]]
        model = model_cls(layers, input_dim=config["input_dim"], dtype=config["dtype"],
                          seed=config["seed"])
        for name in model.params.names:
            value = arrays[f"param/{name}"]
            if value.shape != model.params[name].shape:
                raise ValueError(f"parameter {name} has shape {value.shape}, expected "
                                 f"{model.params[name].shape}")
            model.params[name][...] = value
        for layer in model.layers:
            for name, target in layer.state_arrays().items():
                target[...] = arrays[f"state/{layer.name}.{name}"]
        if header["optimizer"] is not None:
            sd = dict(header["optimizer"])
            sd["state"] = {key: None if n is None else [arrays[f"optim/{key}/{i}"] for i in range(n)]
                           for key, n in sd["state"].items()}
            model.optimizer = optim.from_state_dict(sd)
        if header["normalizer"] is not None:
            prefix = "normalizer/"
            model.normalizer = normalizer_from_arrays(
                header["normalizer"],
                {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
        model.epoch = int(header["epoch"])
        model.step = int(header["step"])
        model.loss = header["loss"]
        model._shuffle_rng.bit_generator.state = header["shuffle_rng"]
        model._augment_rng.bit_generator.state = header["augment_rng"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"load_model: {path} is damaged or incomplete: {exc}") from None
    return model
