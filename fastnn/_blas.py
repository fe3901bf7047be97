"""Which BLAS fastnn's kernels call for their GEMMs, found once at import.

Design: the kernels call a CBLAS ``?gemm`` through pointers (csrc/gemm.h)
from inside fastnn's thread pool, one block of a product per thread, with the
BLAS held to one thread (csrc/blas.h).  This module finds those pointers in a
library the process has or can load, and how to hold it to one thread:

- ``mkl``: Intel MKL's ``libmkl_rt`` when it is installed (``pip install
  'fastnn[mkl]'``); 1.2x (one thread) to 1.3x (two) faster than NumPy's
  OpenBLAS on the GEMMs of an MNIST epoch (bench/README.md).  Held to one
  thread per thread with ``MKL_Set_Num_Threads_Local``; when fastnn is the
  one that loads it, it is also told to run sequentially, so it never loads
  an OpenMP runtime of its own.
- ``openblas``: the OpenBLAS NumPy ships (or any OpenBLAS the process has
  loaded), always there.  Its thread count is process-wide: fastnn lowers it
  to 1 only for the duration of its own calls (csrc/blas.c).
- ``numpy``: no pointers; the GEMMs go through ``numpy.matmul`` with the
  BLAS's own threads, and the elementwise passes run on the calling thread.
  Used when no CBLAS is found, and on request (it is the "BLAS owns the
  threads" design that bench/ measures against).

``FASTNN_BLAS=auto|mkl|openblas|numpy`` (environment, read at import)
chooses; ``auto`` (default) takes the first available of mkl, openblas.
"""
import ctypes
import ctypes.util
import glob
import os
import sys
from typing import NamedTuple

import numpy    # loads NumPy's BLAS, which is looked for among the loaded libraries

__all__ = ["Provider", "find", "CHOICES"]

CHOICES = ("auto", "mkl", "openblas", "numpy")

# csrc/gemm.h enum fnn_blas_kind
_LP64, _ILP64 = 1, 2
_MKL_THREADING_SEQUENTIAL = 1


class Provider(NamedTuple):
    """A BLAS fastnn can call.  Addresses are 0 where there is none."""
    name: str                   # "mkl", "openblas", "numpy"
    kind: int                   # csrc/gemm.h: 0 none, 1 LP64, 2 ILP64
    sgemm: int
    dgemm: int
    get_threads: int            # process-wide count: int (void)
    set_threads: int            # void (int)
    set_threads_local: int      # int (int), returns the previous local count
    sequential: bool            # fastnn can hold it to one thread per caller
    column_cut_bytes: int       # csrc/dense_impl.h cut_columns, measured per BLAS
    filepath: str
    version: str
    detail: str                 # the kernel architecture, the threading layer


def _address(lib, name):
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
    except AttributeError:
        return 0


def _noload(path):
    """The library at ``path`` if the process has already loaded it, else None."""
    mode = getattr(os, "RTLD_NOLOAD", 0)
    if not mode:
        return None
    try:
        return ctypes.CDLL(path, mode=mode | ctypes.RTLD_GLOBAL)
    except OSError:
        return None


def _threadpool_libraries():
    """threadpoolctl's view of the BLAS libraries loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:           # a core dependency; be robust all the same
        return []
    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def _mkl():
    loaded = [info["filepath"] for info in _threadpool_libraries()
              if info.get("internal_api") == "mkl"]
    candidates = list(loaded)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for prefix in sorted(prefixes):
        for sub in ("lib", "Library/bin", "Library/lib"):
            candidates += sorted(glob.glob(os.path.join(prefix, sub, "libmkl_rt.so*")))
            candidates += sorted(glob.glob(os.path.join(prefix, sub, "mkl_rt*.dll")))
            candidates += sorted(glob.glob(os.path.join(prefix, sub, "libmkl_rt*.dylib")))
    found = ctypes.util.find_library("mkl_rt")
    if found:
        candidates.append(found)
    for path in candidates:
        lib = _noload(path)
        # where the OS cannot say (no RTLD_NOLOAD), threadpoolctl's list does
        ours = lib is None and path not in loaded
        if lib is None:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
        # the _64 entry points take 64-bit integers whatever interface layer
        # (MKL_INTERFACE_LAYER) the library was switched to; the plain ones
        # take the layer's, so they are used only where _64 ones do not exist
        sgemm, dgemm = _address(lib, "cblas_sgemm_64"), _address(lib, "cblas_dgemm_64")
        kind = _ILP64
        if not (sgemm and dgemm) and "MKL_INTERFACE_LAYER" not in os.environ:
            sgemm, dgemm, kind = _address(lib, "cblas_sgemm"), _address(lib, "cblas_dgemm"), _LP64
        local = _address(lib, "MKL_Set_Num_Threads_Local")
        if not (sgemm and dgemm and local):
            continue
        if ours and "MKL_THREADING_LAYER" not in os.environ:
            # nobody else calls this copy: no OpenMP runtime of its own, ever
            lib.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL)
        version = ""
        if _address(lib, "MKL_Get_Version_String"):
            buf = ctypes.create_string_buffer(256)
            lib.MKL_Get_Version_String(buf, len(buf))
            version = buf.value.decode(errors="replace").strip()
        return Provider("mkl", kind, sgemm, dgemm, 0, 0, local, True, 2 << 20,
                        getattr(lib, "_name", path), version,
                        "sequential" if ours else "thread-local limit")
    return None


def _numpy_libraries():
    """The shared libraries a NumPy wheel ships (its BLAS among them), for when
    threadpoolctl cannot list the loaded ones."""
    package = os.path.dirname(os.path.abspath(numpy.__file__))
    paths = []
    for pattern in (package + ".libs/*.so*", package + ".libs/*.dll", package + "/.dylibs/*.dylib"):
        paths += sorted(glob.glob(pattern))
    return [{"filepath": p, "internal_api": "openblas"} for p in paths if "openblas" in p.lower()]


def _openblas():
    libraries = [info for info in _threadpool_libraries()
                 if info.get("internal_api") == "openblas"] or _numpy_libraries()
    # NumPy's own copy first (measured faster than SciPy's, bench/README.md): wheels
    # keep it in numpy.libs/ (Linux, Windows) or numpy/.dylibs/ (macOS)
    package = os.path.dirname(os.path.abspath(numpy.__file__))
    numpy_dirs = (package + os.sep, package + ".libs" + os.sep)
    libraries.sort(key=lambda info: not os.path.abspath(info["filepath"]).startswith(numpy_dirs))
    for info in libraries:
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            continue
        found = openblas_entry_points(lib)
        if found is not None:
            prefix, suffix, sgemm, dgemm, ilp64 = found
            get = _address(lib, f"{prefix}openblas_get_num_threads{suffix}")
            set_ = _address(lib, f"{prefix}openblas_set_num_threads{suffix}")
            layer = info.get("threading_layer") or "unknown"
            if _address(lib, f"{prefix}openblas_get_parallel{suffix}"):
                layer = {0: "disabled", 1: "pthreads", 2: "openmp"}.get(
                    getattr(lib, f"{prefix}openblas_get_parallel{suffix}")(), layer)
            # an OpenMP build takes its count from the calling thread's OpenMP
            # state, which fastnn's threads do not set; a build without threads
            # may not be called from several threads at once (unless built
            # with USE_LOCKING): both keep their GEMMs whole, on the caller
            sequential = layer == "pthreads" and bool(get and set_)
            return Provider("openblas", _ILP64 if ilp64 else _LP64, sgemm, dgemm,
                            get if sequential else 0, set_ if sequential else 0, 0,
                            sequential, 256 << 10, info["filepath"], info.get("version") or "",
                            f"{info.get('architecture') or '?'} kernels, {layer} threading")
    return None


def openblas_entry_points(lib):
    """(prefix, suffix, sgemm, dgemm, ilp64) of an OpenBLAS library loaded as
    ``lib`` (ctypes): the affixes of its symbols (SciPy's builds rename them:
    scipy_cblas_sgemm64_), the CBLAS addresses and whether they take 64-bit
    integers; None when it has no CBLAS.  bench/workloads.py uses it too."""
    for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("scipy_", ""), ("", "")):
        sgemm = _address(lib, f"{prefix}cblas_sgemm{suffix}")
        dgemm = _address(lib, f"{prefix}cblas_dgemm{suffix}")
        if not (sgemm and dgemm):
            continue
        config = ""
        if _address(lib, f"{prefix}openblas_get_config{suffix}"):
            get_config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
            get_config.restype = ctypes.c_char_p
            config = (get_config() or b"").decode(errors="replace")
        # 64-bit integers: the build says so (USE64BITINT); the 64_ suffix
        # only marks the builds that rename their symbols
        ilp64 = "USE64BITINT" in config if config else bool(suffix)
        return prefix, suffix, sgemm, dgemm, ilp64
    return None


def _numpy_route(reason):
    return Provider("numpy", 0, 0, 0, 0, 0, 0, False, 0, "", "", reason)


NO_CBLAS = "numpy.matmul: no CBLAS library found in this process"


def find(choice=None):
    """The provider for ``choice`` (default: $FASTNN_BLAS or "auto"), and a
    warning text when the one asked for is not available (else None)."""
    if choice is None:
        choice = os.environ.get("FASTNN_BLAS", "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        return (_pick("auto"),
                f"FASTNN_BLAS={choice!r} is not one of {', '.join(CHOICES)}; using 'auto'")
    provider = _pick(choice)
    if provider.name != choice and choice not in ("auto", "numpy"):
        return provider, (f"FASTNN_BLAS={choice!r}: no usable {choice} library was found "
                          f"(for MKL: pip install 'fastnn[mkl]'); using {provider.name!r}")
    return provider, None


def _pick(choice):
    if choice == "numpy":
        return _numpy_route("numpy.matmul, asked for by FASTNN_BLAS")
    finders = {"auto": (_mkl, _openblas), "mkl": (_mkl, _openblas), "openblas": (_openblas,)}
    for finder in finders[choice]:
        provider = finder()
        if provider is not None:
            return provider
    return _numpy_route(NO_CBLAS)
