"""The ``fastnn`` command line (console script ``fastnn``, or ``python -m fastnn``).

    fastnn demo                          train on the embedded digits, report, plot
    fastnn train DATA [--config F.toml]  train on .npz/.csv data and save the model
    fastnn evaluate MODEL DATA           loss and accuracy of a saved model
    fastnn predict MODEL DATA            predictions as CSV
    fastnn gradcheck MODEL DATA          backpropagation against finite differences
    fastnn export MODEL OUT.onnx         a saved model as an ONNX file (fastnn.onnx)
    fastnn tune SPACE.toml DATA          hyperparameter search (fastnn.tune)
    fastnn bench [--quick]               kernels against their NumPy twins

Modules: ``main`` (parser, error policy), one module per command family
(``demo``, ``train``, ``saved_model``, ``export``, ``tune``, ``bench``), ``config`` (the
hyperparameters shared by train and tune), ``datafiles`` (.npz/.csv input,
CSV output), ``report`` (printing), ``errors``.
"""
from fastnn.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
