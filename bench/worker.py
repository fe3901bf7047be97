"""A fresh process that times one implementation for bench/conftest.py.

    python bench/worker.py --threads N [--peer torch|sklearn|none]

It starts as a user's process does: the peer library (when given) is
imported and used first, then the implementation's own libraries.  It then
answers JSON lines on stdin, one reply per line on stdout:

    {"cmd": "setup", "workload": w, "impl": i, "params": {...},
     "min_time": s, "warmup": s}
        build the workload (bench/workloads.py), check it, warm it up for
        `warmup` seconds, and choose how many calls a round makes so that a
        round lasts at least `min_time` -> {"calls": n} or {"skip": reason}
    {"cmd": "round"}   -> {"seconds": time per call of one round}
    {"cmd": "info"}    -> what the process runs on (fastnn's runtime when
                          loaded, threadpoolctl's pools, versions, CPU)
    {"cmd": "exit"}

A call that measures itself (an epoch inside a longer fit returns
epoch.Timed) reports that duration instead of the call's.
"""
import argparse
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def load_peer(peer):
    if peer == "torch":
        import torch            # its OpenMP runtime and MKL, their threads spinning
        x = torch.randn(256, 784)
        torch.nn.Linear(784, 256)(x).relu().sum().backward()
    elif peer == "sklearn":
        import numpy as np      # scikit-learn's OpenMP runtime and SciPy's BLAS
        from sklearn.cluster import KMeans
        KMeans(8, n_init=2, random_state=0).fit(np.random.default_rng(0).random((20000, 16)))
    elif peer != "none":
        raise SystemExit(f"unknown peer {peer!r}")


def info():
    import numpy as np
    out = {"python": sys.version.split()[0], "numpy": np.__version__,
           "threads": os.environ.get("FASTNN_BENCH_THREADS"),
           "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None}
    if "fastnn" in sys.modules:
        fastnn = sys.modules["fastnn"]
        out["fastnn"] = fastnn.__version__
        runtime = getattr(fastnn, "_runtime", None)
        if runtime is not None and hasattr(runtime, "runtime_info"):
            out["runtime"] = runtime.runtime_info()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    try:
        from threadpoolctl import threadpool_info
        out["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "prefix",
                                                      "version", "architecture", "num_threads",
                                                      "threading_layer", "filepath")}
                              for p in threadpool_info()]
    except ImportError:
        pass
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--peer", default="none")
    args = parser.parse_args()
    os.environ["FASTNN_BENCH_THREADS"] = str(args.threads)
    load_peer(args.peer)
    sys.path.insert(0, HERE)
    import workloads
    from epoch import Timed

    call, calls = None, 1

    def run_round():
        start = time.perf_counter()
        total = 0.0
        for _ in range(calls):
            result = call()
            if isinstance(result, Timed):
                total += result
                extra.update(getattr(result, "extra", {}))
        elapsed = time.perf_counter() - start
        return (total if total else elapsed) / calls

    extra = {}      # what a call measured besides time (memory), sent with each round

    for line in sys.stdin:
        request = json.loads(line)
        try:
            cmd = request["cmd"]
            if cmd == "setup":
                try:
                    call = workloads.setup(request["workload"], request["impl"],
                                           **request.get("params", {}))
                except workloads.Skip as exc:
                    reply = {"skip": str(exc)}
                else:
                    calls = 1
                    deadline = time.perf_counter() + request.get("warmup", 0.2)
                    call()
                    while time.perf_counter() < deadline:
                        call()
                    min_time = request.get("min_time", 0.0)
                    while calls < 1 << 20 and run_round() * calls < min_time:
                        calls *= 2
                    reply = {"calls": calls}
            elif cmd == "round":
                reply = {"seconds": run_round(), "extra": extra}
            elif cmd == "info":
                reply = info()
            elif cmd == "exit":
                break
            else:
                reply = {"error": f"unknown command {cmd!r}"}
        except Exception:
            reply = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
