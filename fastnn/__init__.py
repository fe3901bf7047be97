"""fastnn: fully-connected neural networks on the CPU, with fused C kernels.

Layers:  csrc/ (C)  ->  fastnn._* (Cython wrappers, argument checks)
         ->  fastnn.ops / fastnn.numpy_ops (public kernels and their twins)
         ->  parameters, optimizers, schedules, models, training, tuning, command line.
"""
from fastnn._threads import get_num_threads, openmp_enabled, set_num_threads
from fastnn import ops
from fastnn import schedules
from fastnn.ema import ExponentialMovingAverage
from fastnn.optim import SGD, Adam, Momentum, RMSprop
from fastnn.parameters import ParameterBuffer

__version__ = "0.1.0"

__all__ = [
    "ops",
    "schedules",
    "SGD",
    "Momentum",
    "RMSprop",
    "Adam",
    "ExponentialMovingAverage",
    "ParameterBuffer",
    "set_num_threads",
    "get_num_threads",
    "openmp_enabled",
    "__version__",
]
