# distutils: sources = csrc/batchnorm.c
"""Batch-normalisation kernels (csrc/batchnorm.c).

Design: the wrapper checks the arguments with fastnn._validation (the NumPy
twins share those checks), allocates whatever output the caller did not
provide, and runs one C call with the GIL released.  The training forward
returns a BatchNormCache holding Z and gamma (by reference), mu and inv_std:
the backward pass recomputes z_norm = (Z - mu) * inv_std from Z, which
measured cheaper than storing it (see csrc/batchnorm.c), so Z must not change
between the forward and the backward pass.

Conventions (as torch.nn.BatchNorm1d, except the meaning of momentum):
- normalisation uses the biased batch variance (divide by m);
- running_var averages the unbiased batch variance (times m / (m - 1));
- momentum is the course's beta, the weight of the OLD average:
  running = momentum * running + (1 - momentum) * batch_statistic.
  torch's momentum is the weight of the new statistic: torch momentum=0.1
  is momentum=0.9 here;
- a training batch of one row raises ValueError (its variance is undefined).
"""
import numpy as np
cimport numpy as cnp

from fastnn._csrc cimport (fnn_exec, fnn_batchnorm_forward_train, fnn_batchnorm_forward_eval,
                           fnn_batchnorm_backward)
from fastnn._validation cimport (batchnorm_forward_args, batchnorm_backward_args, dtype_code,
                                 raise_for_status)
from fastnn._validation import BatchNormCache
from fastnn._runtime cimport exec_context

cnp.import_array()


cdef inline void *_data_or_null(cnp.ndarray a):
    return cnp.PyArray_DATA(a) if a is not None else NULL


def batchnorm_forward(Z, gamma, beta, *, eps=1e-5, training=True, running_mean=None,
                      running_var=None, momentum=0.9, out=None):
    """Batch normalisation of Z's columns, then scale and shift.

    Training (``training=True``), with mu and var the mean and the biased
    variance of each column over the m rows of the mini-batch::

        z_norm = (Z - mu) / sqrt(var + eps),   Z_tilde = gamma * z_norm + beta

    and, when running_mean and running_var are given, updates them in place::

        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var  = momentum * running_var  + (1 - momentum) * var * m / (m - 1)

    Inference (``training=False``) normalises with running_mean and
    running_var instead, which are then required and left unchanged.

    Parameters
    ----------
    Z : ndarray (m, n), float32 or float64, C-contiguous; m >= 2 when training.
    gamma, beta : ndarray (n,), same dtype.
    eps : float > 0, added to the variance.
    training : bool
    running_mean, running_var : ndarray (n,) of Z's dtype, or None (training
        only: then no running statistics are kept).  Start them at 0 and 1
        (torch's initial values); running_var must stay non-negative (not
        checked: inference would return NaN).
    momentum : float in [0, 1], weight of the old running average (the
        course's beta; torch's momentum is 1 - this).
    out : None, an (m, n) array for Z_tilde, or a tuple (Z_tilde, cache)
        where cache is an earlier BatchNormCache whose mu and inv_std arrays
        are reused (either may be None).  Z_tilde may be Z itself only in
        inference: the training cache refers to Z.

    Returns
    -------
    (Z_tilde, cache) : cache is a BatchNormCache for batchnorm_backward when
        training (it refers to Z: leave Z unchanged until then), None in
        inference.
    """
    cdef cnp.ndarray z, g, b, rm, rv, zt, mu, istd
    z, g, b, e, train, mom, rm, rv, zt, mu, istd = batchnorm_forward_args(
        Z, gamma, beta, eps, training, running_mean, running_var, momentum, out)
    cdef int dt = dtype_code(z)
    cdef Py_ssize_t m = z.shape[0], n = z.shape[1]
    cdef double c_eps = e, c_mom = mom
    cdef fnn_exec ex = exec_context()
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pg = cnp.PyArray_DATA(g)
    cdef const void *pb = cnp.PyArray_DATA(b)
    cdef void *pzt = cnp.PyArray_DATA(zt)
    cdef void *prm = _data_or_null(rm)
    cdef void *prv = _data_or_null(rv)
    cdef void *pmu
    cdef void *pis
    cdef int status
    if not train:
        with nogil:
            status = fnn_batchnorm_forward_eval(&ex, dt, pz, pg, pb, prm, prv, pzt, m, n, c_eps)
        raise_for_status(status, "batchnorm_forward")
        return zt, None
    pmu = cnp.PyArray_DATA(mu)
    pis = cnp.PyArray_DATA(istd)
    with nogil:
        status = fnn_batchnorm_forward_train(&ex, dt, pz, pg, pb, pzt, pmu, pis, prm, prv,
                                             m, n, c_eps, c_mom)
    raise_for_status(status, "batchnorm_forward")
    return zt, BatchNormCache(z, g, mu, istd)


def batchnorm_backward(dZ_tilde, cache, *, out=None):
    """Gradients of a training batchnorm_forward from dZ_tilde = dJ/dZ_tilde.

    With gamma, inv_std from the cache, z_norm = (Z - mu) * inv_std recomputed
    from the cache's Z and mu, and m rows::

        dbeta  = sum over rows of dZ_tilde
        dgamma = sum over rows of dZ_tilde * z_norm
        dZ     = (gamma * inv_std / m) * (m * dZ_tilde - dbeta - z_norm * dgamma)

    out : None, an (m, n) array for dZ (may be dZ_tilde itself, not Z), or a
        tuple (dZ, dgamma, dbeta) of buffers (None for any to allocate).

    Returns (dZ, dgamma, dbeta).
    """
    cdef cnp.ndarray dzt, z, g, mu, istd, dz, dg, db
    dzt, z, g, mu, istd, dz, dg, db = batchnorm_backward_args(dZ_tilde, cache, out)
    cdef int dt = dtype_code(z)
    cdef Py_ssize_t m = z.shape[0], n = z.shape[1]
    cdef fnn_exec ex = exec_context()
    cdef const void *pdzt = cnp.PyArray_DATA(dzt)
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pg = cnp.PyArray_DATA(g)
    cdef const void *pmu = cnp.PyArray_DATA(mu)
    cdef const void *pis = cnp.PyArray_DATA(istd)
    cdef void *pdz = cnp.PyArray_DATA(dz)
    cdef void *pdg = cnp.PyArray_DATA(dg)
    cdef void *pdb = cnp.PyArray_DATA(db)
    cdef int status
    with nogil:
        status = fnn_batchnorm_backward(&ex, dt, pdzt, pz, pg, pmu, pis, pdz, pdg, pdb, m, n)
    raise_for_status(status, "batchnorm_backward")
    return dz, dg, db
