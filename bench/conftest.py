"""How bench/ measures: every implementation in a fresh process of its own,
timed there, recorded by pytest-benchmark here.

Design: a library loaded into a process changes what every other library in
it gets (PyTorch brings its OpenMP runtime and MKL threads, NumPy's OpenBLAS
spins its threads after each call), so a figure taken beside a peer is not
the figure a user gets.  Each implementation therefore runs in its own
worker process (bench/worker.py), started as a user's process starts
(``python``, the implementation's imports, nothing else; or with a peer
library imported and used first, for the peer benchmarks).  Workers are kept
for the session and reused across shapes; only one is ever working.

The worker times its rounds itself (a kernel round is as many calls as fill
``--bench-min-time``, an epoch round is one epoch) and reports the time per
call; pytest-benchmark records those through a clock that advances by
exactly the reported durations (``remote_clock``), so its tables, JSON and
statistics hold the worker's figures.  Timing is never in tests/.

Options: ``--bench-threads=1,2`` (thread counts, each in its own
processes), ``--bench-rounds=N`` (kernel rounds, default 15; epochs use
``FASTNN_BENCH_ROUNDS``, default 4, after one warm-up epoch),
``--bench-min-time`` (default 0.02 s a kernel round).  Environment variables
of the run (FASTNN_BLAS, OPENBLAS_CORETYPE, ...) reach every worker.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
EPOCH_ROUNDS = int(os.environ.get("FASTNN_BENCH_ROUNDS", "4"))

# every duration a worker reported, summed: pytest-benchmark's timer here
_CLOCK = [0.0]


def remote_clock():
    return _CLOCK[0]


def pytest_addoption(parser):
    parser.addoption("--bench-threads", default="1,2",
                     help="comma-separated thread counts to measure (default 1,2)")
    parser.addoption("--bench-rounds", type=int, default=15,
                     help="rounds per kernel benchmark (default 15; epochs: "
                          "FASTNN_BENCH_ROUNDS, default 4)")
    parser.addoption("--bench-min-time", type=float, default=0.02,
                     help="seconds a kernel round lasts at least (default 0.02)")


def thread_counts(config):
    return [int(t) for t in config.getoption("--bench-threads").split(",") if t.strip()]


def pytest_generate_tests(metafunc):
    if "threads" in metafunc.fixturenames:
        counts = thread_counts(metafunc.config)
        metafunc.parametrize("threads", counts, ids=[f"{t}t" for t in counts])


def _fastnn_home():
    """The folder holding the fastnn package to measure (installed or in-tree)."""
    import importlib.util
    spec = importlib.util.find_spec("fastnn")
    if spec is None or spec.origin is None:
        raise pytest.UsageError("fastnn is not importable: pip install '.[test]' or build it "
                                "in place (python setup.py build_ext --inplace) and set "
                                "PYTHONPATH=.")
    return str(pathlib.Path(spec.origin).resolve().parents[1])


def _build_floors():
    """bench/floors.c as a shared library, or None (its benchmarks then skip)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if shutil.which(cc.split()[0]) is None:
        return None
    out = pathlib.Path(tempfile.mkdtemp(prefix="fastnn_bench_")) / "floors.so"
    cmd = cc.split() + ["-O3", "-march=native", "-std=c99", "-fopenmp", "-shared", "-fPIC",
                        str(HERE / "floors.c"), "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    return str(out) if result.returncode == 0 else None


class Worker:
    def __init__(self, threads, peer, env):
        full_env = dict(os.environ, FASTNN_BENCH_THREADS=str(threads), **env)
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_fastnn_home(), str(HERE), os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py"), "--threads", str(threads), "--peer", peer],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=full_env,
            cwd=str(ROOT))

    def ask(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench worker exited (code {self.proc.wait()}); "
                               f"request {request}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"bench worker failed on {request}:\n{reply['error']}")
        return reply

    def close(self):
        try:
            self.ask(cmd="exit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Workers:
    """One worker process per (implementation, threads, peer, env), kept for
    the session."""

    def __init__(self):
        self.floors = _build_floors()
        self._workers = {}
        self.infos = {}

    def get(self, key, threads, peer="none", env=None):
        env = dict(env or {})
        if self.floors:
            env["FASTNN_BENCH_FLOORS"] = self.floors
        full_key = (key, threads, peer, tuple(sorted(env.items())))
        if full_key not in self._workers:
            # the others sleep meanwhile (their threads idle after a few ms)
            self._workers[full_key] = Worker(threads, peer, env)
        return self._workers[full_key]

    def close(self):
        for w in self._workers.values():
            w.close()


_WORKERS = []


@pytest.fixture(scope="session")
def workers():
    w = Workers()
    _WORKERS.append(w)
    yield w
    w.close()


@pytest.fixture
def measure(benchmark, workers, request):
    """measure(workload, impl, params, group, threads, peer="none", env=None,
    kind=..., rounds=None, **info): time one implementation in its worker,
    record it in pytest-benchmark (group, extra_info) and return the min."""
    config = request.config

    def _measure(workload, impl, params, *, group, threads, peer="none", env=None,
                 rounds=None, epochs=False, **extra):
        rounds = rounds or (EPOCH_ROUNDS if epochs else config.getoption("--bench-rounds"))
        if epochs:
            params = dict(params, rounds=rounds)
        # kernels of one implementation share a worker; every epoch benchmark
        # (a model trained in the worker) gets a fresh one
        key = f"{workload}:{impl}:{sorted(params.items())}" if epochs else impl
        worker = workers.get(key, threads, peer, env)
        reply = worker.ask(cmd="setup", workload=workload, impl=impl, params=params,
                           min_time=0.0 if epochs else config.getoption("--bench-min-time"),
                           warmup=0.0 if epochs else 0.2)
        if "skip" in reply:
            pytest.skip(reply["skip"])
        key = (threads, peer, tuple(sorted((env or {}).items())), "fastnn" in impl)
        if key not in workers.infos:
            workers.infos[key] = worker.ask(cmd="info")
        benchmark.group = group
        benchmark.extra_info.update(workload=workload, impl=impl, threads=threads, peer=peer,
                                    env=dict(env or {}), calls=reply["calls"], **params, **extra)
        benchmark.extra_info["runtime"] = workers.infos[key].get("runtime")

        def one_round():
            reply = worker.ask(cmd="round")
            _CLOCK[0] += reply["seconds"]
            for key, value in reply.get("extra", {}).items():      # the worst round's
                benchmark.extra_info[key] = max(value, benchmark.extra_info.get(key, value))
        benchmark._timer = remote_clock
        benchmark.pedantic(one_round, rounds=rounds, iterations=1)
        return benchmark.stats.stats.min
    return _measure


def pytest_benchmark_update_machine_info(config, machine_info):
    infos = _WORKERS[0].infos if _WORKERS else {}
    machine_info["fastnn_bench"] = {
        "workers": [{"threads": k[0], "peer": k[1], "env": dict(k[2]), **v}
                    for k, v in infos.items()],
        "floors": _WORKERS[0].floors if _WORKERS else None,
        "env": {k: os.environ.get(k) for k in ("FASTNN_BLAS", "OPENBLAS_CORETYPE",
                                                "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                                                "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")},
        "cpu_count": os.cpu_count(),
    }


def load_report():
    """bench/report.py as a module (bench/ is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("fastnn_bench_report", HERE / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or not bs.benchmarks:
        return
    try:
        rows = [b.as_dict(include_data=False) for b in bs.benchmarks if not b.has_error]
        machine = {}
        pytest_benchmark_update_machine_info(config, machine)
        text = load_report().format_report({"benchmarks": rows, "machine_info": machine})
    except Exception as exc:  # the table is a convenience; never fail the run for it
        terminalreporter.write_line(f"fastnn bench: could not build the report: {exc!r}")
        return
    terminalreporter.write_sep("-", "fastnn report (min times; same as bench/report.py)")
    terminalreporter.write(text)
