"""A fresh process as a user starts it: optionally another library that brings
its own thread pools is loaded and used first, then fastnn trains a small
network a few steps.  Prints one JSON line: a digest of the weights, the
thread count, the GEMM provider, every warning fastnn gave, and the BLAS
thread counts before and after.

    python runtime_probe.py PEER THREADS     (PEER: none, sklearn, torch, gomp)

tests/test_threads.py runs it under several peers and environments and
compares the lines.
"""
import ctypes
import ctypes.util
import hashlib
import json
import sys
import warnings


def load_peer(peer):
    if peer == "sklearn":
        # scikit-learn's own OpenMP runtime and SciPy's OpenBLAS, both used
        import numpy as np
        from sklearn.cluster import KMeans
        KMeans(4, n_init=2, random_state=0).fit(np.random.default_rng(0).random((3000, 8)))
    elif peer == "torch":
        import torch            # its libgomp and MKL, used with spinning threads
        x = torch.randn(256, 784)
        torch.nn.Linear(784, 256)(x).relu().sum().backward()
    elif peer == "gomp":
        # the system's libgomp, loaded first as many conda builds do, with
        # whatever OMP_WAIT_POLICY the environment gives it
        name = ctypes.util.find_library("gomp")
        if name:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL).omp_get_max_threads()
    elif peer != "none":
        raise SystemExit(f"unknown peer {peer!r}")


def blas_threads():
    from threadpoolctl import threadpool_info
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")


def main():
    peer, threads = sys.argv[1], int(sys.argv[2])
    load_peer(peer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import numpy as np
        before = blas_threads()
        import fastnn
        fastnn.set_num_threads(threads)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((2048, 300)).astype(np.float32)
        y = rng.integers(0, 10, 2048)
        model = fastnn.Sequential([fastnn.Dense(256, "relu"), fastnn.BatchNorm(),
                                   fastnn.Dropout(0.9), fastnn.Dense(128, "tanh"),
                                   fastnn.Dense(10, "softmax")], input_dim=300, seed=3)
        model.fit(X, y, optimizer=fastnn.Adam(1e-3), epochs=2, batch_size=256, l2=0.01,
                  verbose=0)
        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights()))
        digest.update(model.predict_proba(X[:100]).tobytes())
        after = blas_threads()
    print(json.dumps({
        "digest": digest.hexdigest(),
        "threads": fastnn.get_num_threads(),
        "gemm": fastnn._runtime.runtime_info()["gemm"]["provider"],
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught
                     if "fastnn" in str(w.message)],
        "blas_threads_unchanged": [n for _, n in before] == [n for p, n in after
                                                             if p in dict(before)],
    }))


if __name__ == "__main__":
    main()
