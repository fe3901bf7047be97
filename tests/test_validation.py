"""Bad inputs raise ValueError / TypeError naming the function, the argument,
what was expected and what came, on both implementations (they share
fastnn._validation, so the messages are the same).

Each case is one call with exactly one thing wrong, next to a valid baseline
(``test_valid_baseline``), so a case can only pass by rejecting that thing.
"""
import re
import warnings

import numpy as np
import pytest

import fastnn._validation

F64, F32 = np.float64, np.float32
M, N_IN, N_OUT, K = 7, 13, 5, 3


def arrays(dtype=F64):
    rng = np.random.default_rng(0)
    return {
        "A_prev": rng.standard_normal((M, N_IN)).astype(dtype),
        "W": rng.standard_normal((N_IN, N_OUT)).astype(dtype),
        "b": rng.standard_normal(N_OUT).astype(dtype),
        "Z": rng.standard_normal((M, N_OUT)).astype(dtype),
        "dA": rng.standard_normal((M, N_OUT)).astype(dtype),
        "logits": rng.standard_normal((M, K)).astype(dtype),
        "labels": np.arange(M) % K,
        "binary": (np.arange(M * K) % 2).reshape(M, K).astype(dtype),
    }


def forward(impl, **kw):
    a = arrays(kw.pop("dtype", F64))
    args = {"A_prev": a["A_prev"], "W": a["W"], "b": a["b"], "activation": "relu"}
    args.update(kw)
    return impl.dense_forward(args.pop("A_prev"), args.pop("W"), args.pop("b"),
                              args.pop("activation"), **args)


def backward(impl, **kw):
    a = arrays(kw.pop("dtype", F64))
    args = {"dA": a["dA"], "Z": a["Z"], "A_prev": a["A_prev"], "W": a["W"],
            "activation": "relu"}
    args.update(kw)
    return impl.dense_backward(args.pop("dA"), args.pop("Z"), args.pop("A_prev"),
                               args.pop("W"), args.pop("activation"), **args)


def softmax_xent(impl, **kw):
    a = arrays(kw.pop("dtype", F64))
    Z = kw.pop("Z", a["logits"])
    y = kw.pop("y", a["labels"])
    return impl.softmax_cross_entropy(Z, y, **kw)


def sigmoid_xent(impl, **kw):
    a = arrays(kw.pop("dtype", F64))
    Z = kw.pop("Z", a["logits"])
    y = kw.pop("y", a["binary"])
    return impl.sigmoid_cross_entropy(Z, y, **kw)


def mse(impl, **kw):
    a = arrays(kw.pop("dtype", F64))
    P = kw.pop("P", a["logits"])
    y = kw.pop("y", a["binary"])
    return impl.mean_squared_error(P, y, **kw)


def test_valid_baseline(impl):
    """The baselines the cases below alter are accepted."""
    forward(impl)
    forward(impl, dtype=F32)
    backward(impl)
    backward(impl, dtype=F32)
    softmax_xent(impl)
    sigmoid_xent(impl)
    mse(impl)
    impl.softmax(arrays()["logits"])
    impl.sigmoid(arrays()["logits"])


def _a(name, dtype=F64):
    return arrays(dtype)[name]


def _readonly(x):
    x = x.copy()
    x.flags.writeable = False
    return x


def _strided_cols(shape, dtype=F64):
    """A view of `shape` taking every other column: not C-contiguous."""
    return np.zeros((shape[0], 2 * shape[1]), dtype=dtype)[:, ::2]


E = re.escape


def V(value):
    """A value as a message shows it: `-1`, or under NumPy >= 2 the repr of a
    NumPy scalar, `np.int64(-1)` (see the report on issue 3: cosmetic)."""
    return r"(?:np\.\w+\()?" + E(value) + r"\)?"


CASES = [
    # --- shapes that do not chain -------------------------------------------
    ("W rows != A_prev cols", lambda i: forward(i, W=np.ones((12, N_OUT))), ValueError,
     E("dense_forward: W must have shape (13, n_out) to chain with A_prev of shape (7, 13); "
       "got (12, 5)")),
    ("backward W rows != A_prev cols", lambda i: backward(i, W=np.ones((12, N_OUT))), ValueError,
     E("dense_backward: W must have shape (13, n_out)") + ".*" + E("got (12, 5)")),
    ("b wrong length", lambda i: forward(i, b=np.ones(4)), ValueError,
     E("dense_forward: b must have shape (5,) to match W of shape (13, 5); got (4,)")),
    ("b 2-D", lambda i: forward(i, b=np.ones((1, N_OUT))), ValueError,
     E("dense_forward: b must be 1-D; got 2-D array of shape (1, 5)")),
    ("A_prev 1-D", lambda i: forward(i, A_prev=np.ones(N_IN)), ValueError,
     E("dense_forward: A_prev must be 2-D; got 1-D array of shape (13,)")),
    ("W 3-D", lambda i: forward(i, W=np.ones((N_IN, N_OUT, 1))), ValueError,
     E("dense_forward: W must be 2-D; got 3-D")),
    ("dA wrong shape", lambda i: backward(i, dA=np.ones((M, N_OUT + 1))), ValueError,
     E("dense_backward: dA must have shape (7, 5) (rows of A_prev, columns of W); got (7, 6)")),
    ("dA transposed shape", lambda i: backward(i, dA=np.ones((N_OUT, M))), ValueError,
     E("dense_backward: dA must have shape (7, 5)") + ".*" + E("got (5, 7)")),
    ("Z wrong shape", lambda i: backward(i, Z=np.ones((M + 1, N_OUT))), ValueError,
     E("dense_backward: Z must have shape (7, 5) (rows of A_prev, columns of W); got (8, 5)")),
    # --- dtypes -------------------------------------------------------------
    ("W float32 with A_prev float64", lambda i: forward(i, W=_a("W", F32)), TypeError,
     E("dense_forward: W must have dtype float64 like the other arrays of this call "
       "(no silent casts); got float32")),
    ("W float64 with A_prev float32", lambda i: forward(i, dtype=F32, W=_a("W", F64)), TypeError,
     E("dense_forward: W must have dtype float32") + ".*got float64"),
    ("b float32 with float64", lambda i: forward(i, b=_a("b", F32)), TypeError,
     E("dense_forward: b must have dtype float64") + ".*got float32"),
    ("dA float32 with float64", lambda i: backward(i, dA=_a("dA", F32)), TypeError,
     E("dense_backward: dA must have dtype float64") + ".*got float32"),
    ("Z float32 with float64", lambda i: backward(i, Z=_a("Z", F32)), TypeError,
     E("dense_backward: Z must have dtype float64") + ".*got float32"),
    ("backward W float32 with float64", lambda i: backward(i, W=_a("W", F32)), TypeError,
     E("dense_backward: W must have dtype float64") + ".*got float32"),
    ("A_prev int64", lambda i: forward(i, A_prev=np.ones((M, N_IN), dtype=np.int64)), TypeError,
     E("dense_forward: A_prev must be float32 or float64; got int64")),
    ("W int32", lambda i: forward(i, W=np.ones((N_IN, N_OUT), dtype=np.int32)), TypeError,
     E("dense_forward: W must have dtype float64") + ".*got int32"),
    ("A_prev float16", lambda i: forward(i, A_prev=np.ones((M, N_IN), dtype=np.float16)),
     TypeError, E("dense_forward: A_prev must be float32 or float64; got float16")),
    ("backward A_prev int", lambda i: backward(i, A_prev=np.ones((M, N_IN), dtype=np.int64)),
     TypeError, E("dense_backward: A_prev must be float32 or float64; got int64")),
    ("loss Z int", lambda i: softmax_xent(i, Z=np.ones((M, K), dtype=np.int64)), TypeError,
     E("softmax_cross_entropy: Z must be float32 or float64; got int64")),
    ("mse P int", lambda i: mse(i, P=np.ones((M, K), dtype=np.int32)), TypeError,
     E("mean_squared_error: P must be float32 or float64; got int32")),
    ("softmax Z int", lambda i: i.softmax(np.ones((M, K), dtype=np.int64)), TypeError,
     E("softmax: Z must be float32 or float64; got int64")),
    # --- not arrays ---------------------------------------------------------
    ("A_prev list", lambda i: forward(i, A_prev=_a("A_prev").tolist()), TypeError,
     E("dense_forward: A_prev must be a numpy.ndarray; got list")),
    ("W list", lambda i: forward(i, W=_a("W").tolist()), TypeError,
     E("dense_forward: W must be a numpy.ndarray; got list")),
    ("b list", lambda i: forward(i, b=_a("b").tolist()), TypeError,
     E("dense_forward: b must be a numpy.ndarray; got list")),
    ("dA list", lambda i: backward(i, dA=_a("dA").tolist()), TypeError,
     E("dense_backward: dA must be a numpy.ndarray; got list")),
    ("loss Z list", lambda i: softmax_xent(i, Z=_a("logits").tolist()), TypeError,
     E("softmax_cross_entropy: Z must be a numpy.ndarray; got list")),
    ("sigmoid Z list", lambda i: i.sigmoid(_a("logits").tolist()), TypeError,
     E("sigmoid: Z must be a numpy.ndarray; got list")),
    # --- not C-contiguous ---------------------------------------------------
    ("A_prev[:, ::2]", lambda i: forward(i, A_prev=_strided_cols((M, N_IN))), ValueError,
     E("dense_forward: A_prev must be C-contiguous; got a strided array "
       "(use numpy.ascontiguousarray(A_prev))")),
    ("A_prev.T", lambda i: forward(i, A_prev=np.ones((N_IN, M)).T), ValueError,
     E("dense_forward: A_prev must be C-contiguous")),
    ("W.T", lambda i: forward(i, W=np.ones((N_OUT, N_IN)).T), ValueError,
     E("dense_forward: W must be C-contiguous")),
    ("b[::2]", lambda i: forward(i, b=np.ones(2 * N_OUT)[::2]), ValueError,
     E("dense_forward: b must be C-contiguous")),
    ("dA[:, ::2]", lambda i: backward(i, dA=_strided_cols((M, N_OUT))), ValueError,
     E("dense_backward: dA must be C-contiguous")),
    ("Z.T", lambda i: backward(i, Z=np.ones((N_OUT, M)).T), ValueError,
     E("dense_backward: Z must be C-contiguous")),
    ("loss Z[:, ::2]", lambda i: softmax_xent(i, Z=_strided_cols((M, K))), ValueError,
     E("softmax_cross_entropy: Z must be C-contiguous")),
    ("sigmoid loss Z.T", lambda i: sigmoid_xent(i, Z=np.ones((K, M)).T), ValueError,
     E("sigmoid_cross_entropy: Z must be C-contiguous")),
    ("mse P[:, ::2]", lambda i: mse(i, P=_strided_cols((M, K))), ValueError,
     E("mean_squared_error: P must be C-contiguous")),
    ("softmax Z.T", lambda i: i.softmax(np.ones((K, M)).T), ValueError,
     E("softmax: Z must be C-contiguous")),
    # --- empty --------------------------------------------------------------
    ("A_prev 0 rows", lambda i: forward(i, A_prev=np.ones((0, N_IN))), ValueError,
     E("dense_forward: A_prev must not be empty; got shape (0, 13)")),
    ("A_prev 0 cols", lambda i: forward(i, A_prev=np.ones((M, 0)), W=np.ones((0, N_OUT))),
     ValueError, E("dense_forward: A_prev must not be empty; got shape (7, 0)")),
    ("W 0 outputs", lambda i: forward(i, W=np.ones((N_IN, 0)), b=None), ValueError,
     E("dense_forward: W must not be empty; got shape (13, 0)")),
    ("backward 0 rows", lambda i: backward(i, A_prev=np.ones((0, N_IN)), dA=np.ones((0, N_OUT)),
                                           Z=np.ones((0, N_OUT))), ValueError,
     E("dense_backward: A_prev must not be empty; got shape (0, 13)")),
    ("loss 0 rows", lambda i: softmax_xent(i, Z=np.ones((0, K)), y=np.zeros(0, dtype=int)),
     ValueError, E("softmax_cross_entropy: Z must not be empty; got shape (0, 3)")),
    ("sigmoid loss 0 rows", lambda i: sigmoid_xent(i, Z=np.ones((0, K)), y=np.ones((0, K))),
     ValueError, E("sigmoid_cross_entropy: Z must not be empty")),
    ("mse 0 rows", lambda i: mse(i, P=np.ones((0, K)), y=np.ones((0, K))), ValueError,
     E("mean_squared_error: P must not be empty")),
    ("softmax 0 rows", lambda i: i.softmax(np.ones((0, K))), ValueError,
     E("softmax: Z must not be empty")),
    # --- activation, l2, negative_slope -------------------------------------
    ("unknown activation", lambda i: forward(i, activation="gelu"), ValueError,
     E("dense_forward: activation must be one of ['leaky_relu', 'linear', 'relu', 'sigmoid', "
       "'softmax', 'tanh']; got 'gelu'")),
    ("activation wrong case", lambda i: forward(i, activation="ReLU"), ValueError,
     E("dense_forward: activation must be one of") + ".*got 'ReLU'"),
    ("activation None", lambda i: forward(i, activation=None), ValueError,
     E("dense_forward: activation must be one of") + ".*got None"),
    ("backward unknown activation", lambda i: backward(i, activation="swish"), ValueError,
     E("dense_backward: activation must be one of") + ".*got 'swish'"),
    ("negative l2", lambda i: backward(i, l2=-0.1), ValueError,
     E("dense_backward: l2 must be a finite number in [0, inf]; got -0.1")),
    ("NaN l2", lambda i: backward(i, l2=float("nan")), ValueError,
     E("dense_backward: l2 must be a finite number in [0, inf]; got nan")),
    ("inf l2", lambda i: backward(i, l2=float("inf")), ValueError,
     E("dense_backward: l2 must be a finite number") + ".*got inf"),
    ("string l2", lambda i: backward(i, l2="0.1"), TypeError,
     E("dense_backward: l2 must be a real number; got '0.1'")),
    ("bool l2", lambda i: backward(i, l2=True), TypeError,
     E("dense_backward: l2 must be a real number; got True")),
    ("NaN negative_slope", lambda i: forward(i, activation="leaky_relu",
                                             negative_slope=float("nan")), ValueError,
     E("dense_forward: negative_slope must be a finite number") + ".*got nan"),
    # --- class labels -------------------------------------------------------
    ("label negative", lambda i: softmax_xent(i, y=np.array([0, 1, -1, 2, 0, 1, 2])), ValueError,
     E("softmax_cross_entropy: labels y must be in [0, 3) for 3 classes; got ") + V("-1")
     + E(" at index 2")),
    ("label == k", lambda i: softmax_xent(i, y=np.array([0, 1, 2, 2, 3, 1, 2])), ValueError,
     E("softmax_cross_entropy: labels y must be in [0, 3) for 3 classes; got ") + V("3")
     + E(" at index 4")),
    ("label huge", lambda i: softmax_xent(i, y=np.array([0, 1, 2, 2, 1, 1, 2**40])), ValueError,
     E("softmax_cross_entropy: labels y must be in [0, 3)") + ".*at index 6"),
    ("label == k as float", lambda i: softmax_xent(i, y=[0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0]),
     ValueError, E("softmax_cross_entropy: labels y must be in [0, 3)") + ".*at index 3"),
    ("labels too few", lambda i: softmax_xent(i, y=np.zeros(M - 1, dtype=int)), ValueError,
     E("softmax_cross_entropy: y has 6 labels for 7 rows of Z")),
    ("labels too many", lambda i: softmax_xent(i, y=np.zeros(M + 1, dtype=int)), ValueError,
     E("softmax_cross_entropy: y has 8 labels for 7 rows of Z")),
    ("labels non-integral floats", lambda i: softmax_xent(i, y=np.array([0, 1, 2, 0.5, 1, 1, 0])),
     ValueError, E("softmax_cross_entropy: float labels y must be whole numbers in [0, 3); "
                   "got non-integral or non-finite values")),
    ("labels NaN", lambda i: softmax_xent(i, y=np.array([0, 1, 2, np.nan, 1, 1, 0])),
     ValueError, E("softmax_cross_entropy: float labels y must be whole numbers")),
    ("labels strings", lambda i: softmax_xent(i, y=np.array(list("abcabca"))), TypeError,
     E("softmax_cross_entropy: labels y must be integers in [0, 3); got dtype <U1")),
    ("labels bool", lambda i: softmax_xent(i, y=np.ones(M, dtype=bool)), TypeError,
     E("softmax_cross_entropy: labels y must be integers in [0, 3); got dtype bool")),
    ("one-hot too many columns", lambda i: softmax_xent(i, y=np.zeros((M, K + 1))), ValueError,
     E("softmax_cross_entropy: one-hot y must have shape (7, 3) like Z; got (7, 4)")),
    ("one-hot too few rows", lambda i: softmax_xent(i, y=np.zeros((M - 1, K))), ValueError,
     E("softmax_cross_entropy: one-hot y must have shape (7, 3) like Z; got (6, 3)")),
    ("one-hot transposed", lambda i: softmax_xent(i, y=np.zeros((K, M))), ValueError,
     E("softmax_cross_entropy: one-hot y must have shape (7, 3) like Z; got (3, 7)")),
    ("y 3-D", lambda i: softmax_xent(i, y=np.zeros((M, K, 1))), ValueError,
     E("softmax_cross_entropy: y must be 1-D integer labels (7,) or 2-D one-hot (7, 3); "
       "got shape (7, 3, 1)")),
    ("one-hot value 2", lambda i: softmax_xent(i, y=2 * np.eye(K)[np.arange(M) % K]), ValueError,
     E("softmax_cross_entropy: y must be one-hot or probability rows in [0, 1]; got values "
       "from ") + V("0.0") + " to " + V("2.0")),
    ("one-hot negative", lambda i: softmax_xent(i, y=np.eye(K)[np.arange(M) % K] - 1.0), ValueError,
     E("softmax_cross_entropy: y must be one-hot or probability rows in [0, 1]; got values "
       "from ") + V("-1.0") + " to " + V("0.0")),
    ("one-hot NaN", lambda i: softmax_xent(i, y=np.where(np.eye(K)[np.arange(M) % K] == 1, np.nan, 0)),
     ValueError, E("softmax_cross_entropy: y contains NaN or Inf")),
    # --- binary and regression targets --------------------------------------
    ("binary target 2", lambda i: sigmoid_xent(i, y=2 * _a("binary")), ValueError,
     E("sigmoid_cross_entropy: y must be binary targets in [0, 1]; got values from ")
     + V("0.0") + " to " + V("2.0")),
    ("binary target -0.5", lambda i: sigmoid_xent(i, y=_a("binary") - 0.5), ValueError,
     E("sigmoid_cross_entropy: y must be binary targets in [0, 1]; got values from ")
     + V("-0.5") + " to " + V("0.5")),
    ("binary target NaN", lambda i: sigmoid_xent(i, y=np.where(_a("binary") == 1, np.nan, 0.0)),
     ValueError, E("sigmoid_cross_entropy: y contains NaN or Inf")),
    ("binary target wrong shape", lambda i: sigmoid_xent(i, y=np.zeros((M, K + 1))), ValueError,
     E("sigmoid_cross_entropy: y must have shape (7, 3) (binary targets); got (7, 4)")),
    ("binary target 1-D for k > 1", lambda i: sigmoid_xent(i, y=np.zeros(M)), ValueError,
     E("sigmoid_cross_entropy: y must have shape (7, 3) (binary targets); got (7,)")),
    ("binary target strings", lambda i: sigmoid_xent(i, y=np.full((M, K), "1")), TypeError,
     E("sigmoid_cross_entropy: y must be numeric (binary targets); got dtype <U1")),
    ("mse target NaN", lambda i: mse(i, y=np.full((M, K), np.nan)), ValueError,
     E("mean_squared_error: y contains NaN or Inf")),
    ("mse target inf", lambda i: mse(i, y=np.full((M, K), np.inf)), ValueError,
     E("mean_squared_error: y contains NaN or Inf")),
    ("mse target wrong shape", lambda i: mse(i, y=np.zeros((M + 1, K))), ValueError,
     E("mean_squared_error: y must have shape (7, 3) (regression targets); got (8, 3)")),
    # --- output buffers -----------------------------------------------------
    ("out A wrong shape", lambda i: forward(i, out=(None, np.empty((M, N_OUT + 1)))), ValueError,
     E("dense_forward: output A must have shape (7, 5); got (7, 6)")),
    ("out Z wrong shape", lambda i: forward(i, out=(np.empty((N_OUT, M)), None)), ValueError,
     E("dense_forward: output Z must have shape (7, 5); got (5, 7)")),
    ("out A wrong dtype", lambda i: forward(i, out=(None, np.empty((M, N_OUT), F32))), TypeError,
     E("dense_forward: output A must have dtype float64; got float32")),
    ("out Z wrong dtype", lambda i: forward(i, dtype=F32, out=(np.empty((M, N_OUT)), None)),
     TypeError, E("dense_forward: output Z must have dtype float32; got float64")),
    ("out A readonly", lambda i: forward(i, out=(None, _readonly(np.empty((M, N_OUT))))),
     ValueError, E("dense_forward: output A must be writeable")),
    ("out A strided", lambda i: forward(i, out=(None, _strided_cols((M, N_OUT)))), ValueError,
     E("dense_forward: output A must be C-contiguous")),
    ("out A list", lambda i: forward(i, out=(None, np.empty((M, N_OUT)).tolist())), TypeError,
     E("dense_forward: output A must be a numpy.ndarray; got list")),
    ("out not a pair", lambda i: forward(i, out=np.empty((M, N_OUT))), TypeError,
     E("dense_forward: out must be a tuple of 2 arrays (None for any to allocate); got ndarray")),
    ("out Z is out A", lambda i: forward(i, out=(lambda buf: (buf, buf))(np.empty((M, N_OUT)))),
     ValueError, E("dense_forward: out Z and out A must be different arrays when keep_z=True")),
    ("out dW wrong shape", lambda i: backward(i, out=(None, np.empty((N_OUT, N_IN)), None)),
     ValueError, E("dense_backward: output dW must have shape (13, 5); got (5, 13)")),
    ("out db wrong shape", lambda i: backward(i, out=(None, None, np.empty(N_OUT + 1))),
     ValueError, E("dense_backward: output db must have shape (5,); got (6,)")),
    ("out dA_prev wrong shape", lambda i: backward(i, out=(np.empty((M, N_OUT)), None, None)),
     ValueError, E("dense_backward: output dA_prev must have shape (7, 13); got (7, 5)")),
    ("out dW wrong dtype", lambda i: backward(i, out=(None, np.empty((N_IN, N_OUT), F32), None)),
     TypeError, E("dense_backward: output dW must have dtype float64; got float32")),
    ("out db readonly", lambda i: backward(i, out=(None, None, _readonly(np.empty(N_OUT)))),
     ValueError, E("dense_backward: output db must be writeable")),
    ("backward out not a triple", lambda i: backward(i, out=(None, None)), TypeError,
     E("dense_backward: out must be a tuple of 3 arrays")),
    ("workspace wrong shape", lambda i: backward(i, workspace=np.empty((M, N_OUT + 1))),
     ValueError, E("dense_backward: output workspace must have shape (7, 5); got (7, 6)")),
    ("workspace wrong dtype", lambda i: backward(i, workspace=np.empty((M, N_OUT), F32)),
     TypeError, E("dense_backward: output workspace must have dtype float64; got float32")),
    ("workspace readonly dA", lambda i: (lambda dA: backward(i, dA=dA, workspace=dA))(
        _readonly(_a("dA"))), ValueError, E("dense_backward: output workspace must be writeable")),
    ("loss out wrong shape", lambda i: softmax_xent(i, out=np.empty((M, K + 1))), ValueError,
     E("softmax_cross_entropy: output dZ must have shape (7, 3); got (7, 4)")),
    ("loss out wrong dtype", lambda i: sigmoid_xent(i, out=np.empty((M, K), F32)), TypeError,
     E("sigmoid_cross_entropy: output dZ must have dtype float64; got float32")),
    ("loss out readonly", lambda i: softmax_xent(i, out=_readonly(np.empty((M, K)))), ValueError,
     E("softmax_cross_entropy: output dZ must be writeable")),
    ("mse out wrong shape", lambda i: mse(i, out=np.empty((K, M))), ValueError,
     E("mean_squared_error: output dP must have shape (7, 3); got (3, 7)")),
    ("softmax out wrong shape", lambda i: i.softmax(_a("logits"), out=np.empty((M, K + 1))),
     ValueError, E("softmax: output out must have shape (7, 3); got (7, 4)")),
    ("sigmoid out wrong dtype", lambda i: i.sigmoid(_a("logits"), out=np.empty((M, K), F32)),
     TypeError, E("sigmoid: output out must have dtype float64; got float32")),
    ("sigmoid out readonly", lambda i: i.sigmoid(_a("logits"), out=_readonly(np.empty((M, K)))),
     ValueError, E("sigmoid: output out must be writeable")),
]


@pytest.mark.parametrize("call,exc,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match):
        call(impl)


def test_readonly_inputs_are_accepted(impl):
    """Inputs are only read: read-only arrays are fine (only outputs must be
    writeable)."""
    a = {k: _readonly(v) for k, v in arrays().items()}
    Z, A = impl.dense_forward(a["A_prev"], a["W"], a["b"], "tanh")
    impl.dense_backward(a["dA"], a["Z"], a["A_prev"], a["W"], "tanh")
    impl.softmax_cross_entropy(a["logits"], a["labels"])
    impl.sigmoid_cross_entropy(a["logits"], a["binary"])
    impl.mean_squared_error(a["logits"], a["binary"])
    impl.softmax(a["logits"])


def test_failed_call_leaves_outputs_untouched(impl):
    """A rejected call writes nothing: the check happens before any kernel runs."""
    a = arrays()
    Zb = np.full((M, N_OUT), 7.0)
    Ab = np.full((M, N_OUT + 1), 7.0)
    with pytest.raises(ValueError, match="output A must have shape"):
        impl.dense_forward(a["A_prev"], a["W"], a["b"], "relu", out=(Zb, Ab))
    assert np.all(Zb == 7.0)
    dZ = np.full((M, K), 7.0)
    with pytest.raises(ValueError, match="labels y must be in"):
        impl.softmax_cross_entropy(a["logits"], np.full(M, K), out=dZ)
    assert np.all(dZ == 7.0)


BYTESWAPPED_CASES = [
    ("dense_forward", "A_prev|W|b",
     lambda i, a: i.dense_forward(a["A_prev"], a["W"], a["b"], "relu")),
    ("dense_backward", "A_prev|W|dA|Z",
     lambda i, a: i.dense_backward(a["dA"], a["Z"], a["A_prev"], a["W"], "relu")),
    ("softmax_cross_entropy", "Z", lambda i, a: i.softmax_cross_entropy(a["logits"], a["labels"])),
    ("sigmoid_cross_entropy", "Z", lambda i, a: i.sigmoid_cross_entropy(a["logits"], a["binary"])),
    ("mean_squared_error", "P", lambda i, a: i.mean_squared_error(a["logits"], a["binary"])),
    ("softmax", "Z", lambda i, a: i.softmax(a["logits"])),
    ("sigmoid", "Z", lambda i, a: i.sigmoid(a["logits"])),
]


@pytest.mark.parametrize("func,names,call", BYTESWAPPED_CASES, ids=[c[0] for c in BYTESWAPPED_CASES])
def test_non_native_byte_order_is_rejected(impl, func, names, call):
    """Arrays of the other byte order ('>f8' on a little-endian machine) are
    float64 to NumPy's type number but not to C, which reads their bytes as
    native doubles.  All arrays of the call in that order (so no dtype
    mismatch between them catches it): the call must be refused, naming an
    array of the call, rather than computed from byte-swapped garbage or silently
    converted (today fastnn.ops returns e.g. a softmax cross-entropy of
    5.8e+219 for a loss of 1.85)."""
    swapped = {k: (v.astype(v.dtype.newbyteorder()) if v.dtype.kind == "f" else v)
               for k, v in arrays().items()}
    assert not swapped["A_prev"].dtype.isnative
    with pytest.raises((TypeError, ValueError), match=rf"^{func}: ({names}) "):
        call(impl, swapped)


def test_outputs_that_overlap_inputs_are_rejected(impl):
    """dW written into W itself would be read back by the L2 term: refused."""
    a = arrays()
    dZ = a["dA"].copy()
    with pytest.raises(ValueError, match="out dW and W must be separate arrays"):
        impl.dense_backward(a["dA"], a["Z"], a["A_prev"], a["W"], "relu", l2=0.5,
                            out=(None, a["W"], None))
    with pytest.raises(ValueError, match="out A and A_prev must be separate arrays"):
        square = np.ascontiguousarray(a["A_prev"][:, :a["W"].shape[1]])
        impl.dense_forward(square, a["W"][:square.shape[1]], a["b"], "relu", keep_z=False,
                           out=(None, square))
    # the documented in-place use stays allowed: dZ may be dA itself
    impl.dense_backward(dZ, a["Z"], a["A_prev"], a["W"], "relu", workspace=dZ)


def test_workspace_is_checked_for_linear_too(impl):
    a = arrays()
    with pytest.raises(ValueError, match="workspace must have shape"):
        impl.dense_backward(a["dA"], a["Z"], a["A_prev"], a["W"], "linear",
                            workspace=np.empty((1, 1)))


# ------------------------------------------------------------ all_finite
# The data check of fit/predict/Normalizer: a sum first, elementwise only
# when the sum is not finite.

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 500, -1])
def test_all_finite_finds_one_bad_value(dtype, bad, where):
    from fastnn._validation import all_finite
    x = np.random.default_rng(0).standard_normal((37, 29)).astype(dtype)
    assert all_finite(x)
    x.reshape(-1)[where] = bad
    assert not all_finite(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_when_a_finite_sum_overflows(dtype):
    from fastnn._validation import all_finite
    big = np.finfo(dtype).max
    x = np.full(8, big / 2, dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(x.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # the user sees no overflow warning
        assert all_finite(x)
        x[3] = np.nan
        assert not all_finite(x)
        assert not all_finite(np.array([big, big, np.inf, -np.inf], dtype))


@pytest.mark.parametrize("x", [np.arange(5), np.zeros((0, 3)), np.array([True, False]),
                               np.array(2.5), np.zeros((3, 4), np.float32)[:, ::2]])
def test_all_finite_of_integers_empty_scalars_and_views(x):
    from fastnn._validation import all_finite
    assert all_finite(x)


def test_kernels_refuse_a_dtype_code_other_than_float32_and_float64():
    # FNN_DISPATCH once ran any unknown code as float32
    from fastnn import _dense
    assert _dense._dispatch_status(0) == 0 and _dense._dispatch_status(1) == 0
    for code in (2, 3, -1, 255):
        assert _dense._dispatch_status(code) == 2          # FNN_EINVAL
    with pytest.raises(ValueError, match="rejected its arguments"):
        fastnn._validation.raise_for_status(2, "probe")
