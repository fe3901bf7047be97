"""fastnn: fully-connected neural networks on the CPU, with fused C kernels.

Layers:  csrc/ (C)  ->  fastnn._* (Cython wrappers, argument checks)
         ->  fastnn.ops / fastnn.numpy_ops (public kernels and their twins)
         ->  parameters, optimizers, schedules, models, training, tuning, command line.
"""
# The thread pool, the BLAS and the thread count (fastnn/_runtime.pyx): loaded
# first, so every kernel module finds them configured.
try:
    from fastnn._runtime import get_num_threads, set_num_threads, show_config
except ModuleNotFoundError as _exc:         # pragma: no cover - depends on the folder
    if _exc.name != "fastnn._runtime":
        raise
    import os as _os
    raise ImportError(
        f"fastnn was imported from its source folder "
        f"({_os.path.dirname(_os.path.abspath(__file__))}), whose kernels are not built: Python "
        f"looks in the current folder first.  Run Python from another folder to use the "
        f"installed fastnn, or build here with `python setup.py build_ext --inplace`") from None

from fastnn import augment, data, ops, schedules
# fastnn.onnx.export: the onnx package itself is imported on use.  Not in __all__:
# `from fastnn import *` would rebind a script's own `import onnx`.
from fastnn import onnx
from fastnn.callbacks import (Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint,
                              TerminateOnNaN)
from fastnn.diagnosis import diagnose
from fastnn.ema import ExponentialMovingAverage
from fastnn.gradcheck import gradient_check
from fastnn.layers import BatchNorm, Dense, Dropout
from fastnn.model import History, Sequential, load_model
from fastnn.optim import SGD, Adam, Momentum, RMSprop
from fastnn.parameters import ParameterBuffer
from fastnn.preprocessing import Normalizer

__version__ = "0.1.0"

__all__ = [
    "ops", "set_num_threads", "get_num_threads", "show_config", "__version__",
    # models and training
    "Sequential", "Dense", "BatchNorm", "Dropout", "History", "load_model",
    "Callback", "EarlyStopping", "LearningRateScheduler", "ModelCheckpoint", "TerminateOnNaN",
    # optimization
    "SGD", "Momentum", "RMSprop", "Adam", "schedules", "ExponentialMovingAverage",
    "ParameterBuffer",
    # the practical toolkit
    "gradient_check", "Normalizer", "diagnose", "data", "augment",
    # hyperparameter search and data sets (imported on first use)
    "tune", "datasets",
]


def __getattr__(name):
    # fastnn.tune and fastnn.datasets on first use: `import fastnn` stays as
    # fast as the kernels.
    if name in ("tune", "datasets"):
        import importlib
        return importlib.import_module(f"fastnn.{name}")
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
