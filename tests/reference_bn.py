"""Plain-NumPy references for the batch-norm and dropout kernels, written from
the formulas in float64 (self-contained; to be merged into tests/reference.py).

The batch-norm backward here is the step-by-step chain rule through mu and
var, not the compact closed form the kernels use, so the two check each other.
The dropout bits are SplitMix64 in pure-Python integers, independent of both
the C kernel and the vectorised NumPy twin.
"""
import numpy as np

# Tolerances for results computed in the array's own dtype against these
# float64 references; atol is relative to the largest magnitude expected.
TOL = {
    np.dtype(np.float32): dict(rtol=1e-4, atol=2e-5),
    np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11),
}


def assert_close(actual, expected, dtype, tol=None):
    tol = dict(TOL[np.dtype(dtype)] if tol is None else tol)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected,
                               rtol=tol["rtol"], atol=tol["atol"] * scale)


def f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def bn_forward(Z, gamma, beta, eps):
    """(Z_tilde, z_norm, mu, var) of a training batch: var is the biased one."""
    Z, gamma, beta = f64(Z, gamma, beta)
    m = Z.shape[0]
    mu = Z.sum(axis=0) / m
    var = ((Z - mu) ** 2).sum(axis=0) / m
    z_norm = (Z - mu) / np.sqrt(var + eps)
    return gamma * z_norm + beta, z_norm, mu, var


def bn_backward(dZ_tilde, Z, gamma, eps):
    """(dZ, dgamma, dbeta) by the chain rule through z_norm, var and mu."""
    dZ_tilde, Z, gamma = f64(dZ_tilde, Z, gamma)
    m = Z.shape[0]
    mu = Z.mean(axis=0)
    xc = Z - mu
    var = (xc ** 2).mean(axis=0)
    std = np.sqrt(var + eps)
    z_norm = xc / std
    dbeta = dZ_tilde.sum(axis=0)
    dgamma = (dZ_tilde * z_norm).sum(axis=0)
    dz_norm = dZ_tilde * gamma
    dvar = (dz_norm * xc).sum(axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = -(dz_norm / std).sum(axis=0) + dvar * (-2.0 * xc).mean(axis=0)
    dZ = dz_norm / std + dvar * 2.0 * xc / m + dmu / m
    return dZ, dgamma, dbeta


def bn_inference(Z, gamma, beta, running_mean, running_var, eps):
    Z, gamma, beta, running_mean, running_var = f64(Z, gamma, beta, running_mean, running_var)
    return gamma * (Z - running_mean) / np.sqrt(running_var + eps) + beta


def bn_running_update(running_mean, running_var, Z, momentum):
    """One exponentially weighted step; momentum = weight of the old average,
    the variance averaged is the unbiased one (ddof=1), as in torch."""
    running_mean, running_var, Z = f64(running_mean, running_var, Z)
    mean = Z.mean(axis=0)
    var_unbiased = Z.var(axis=0, ddof=1)
    return (momentum * running_mean + (1 - momentum) * mean,
            momentum * running_var + (1 - momentum) * var_unbiased)


_M64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def splitmix64(state, n):
    """The first n outputs of SplitMix64 started at `state`."""
    out = []
    for _ in range(n):
        state = (state + GOLDEN_GAMMA) & _M64
        out.append(mix64(state))
    return out


def dropout_uniforms(seed, size):
    """u_e in [0, 1) of element e: 32 bits of word e // 2 of SplitMix64 started
    at mix64(seed), the low half for even e, the high half for odd e."""
    words = splitmix64(mix64(seed), (size + 1) // 2)
    bits = [half for w in words for half in (w & 0xFFFFFFFF, w >> 32)][:size]
    return np.array(bits, dtype=np.float64) / 2.0 ** 32


def dropout_mask(seed, shape, keep_prob):
    return (dropout_uniforms(seed, int(np.prod(shape))) < keep_prob).reshape(shape)


def dropout_forward(A, mask, keep_prob):
    return np.asarray(A, dtype=np.float64) * mask / keep_prob


def dropout_backward(dA, mask, keep_prob):
    return np.asarray(dA, dtype=np.float64) * mask / keep_prob
