"""Where trials run: caviar (many models in parallel) or one after another.

- ``InProcess``: one trial at a time in the coordinating process (``n_jobs=1``).
- ``LocalProcesses``: caviar on this machine, ``n_jobs`` worker processes
  (joblib's loky when joblib is installed, else the standard library's
  ProcessPoolExecutor with fresh "spawn" interpreters).
- ``DaskCluster``: caviar on a Dask cluster, given a ``dask.distributed.Client``
  or a scheduler address (the ``distributed`` extra).

Design:
- A runner's ``map(planned)`` yields each trial's outcome as it finishes; the
  coordinator stores it at once.  Workers never touch the store.
- The objective (a Builder carries its data) is sent once per worker, not
  once per trial: pickled once here, loaded by each worker's initializer (a
  scattered Dask future on clusters).  cloudpickle is used when available, so
  lambdas and closures work.
- Each worker limits fastnn's and BLAS's threads to ``cores // n_jobs`` so
  parallel trials share the cores instead of oversubscribing them.
- A worker process that dies (segfault, ``os._exit``, out of memory) takes
  its running trials with it.  They are re-run one at a time afterwards, so a
  crash is pinned on the trial that causes it: that one is recorded as
  failed, the others run normally.
"""
import os
import pickle
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait

from fastnn._runtime import usable_cpus
from fastnn.tune.objectives import evaluate
from fastnn.tune.results import Trial

__all__ = ["InProcess", "LocalProcesses", "DaskCluster", "usable_cores"]


def usable_cores():
    """CPUs this process may use: its affinity mask and its cgroup's CPU quota
    (fastnn._runtime.usable_cpus, which also sets fastnn's default threads)."""
    return usable_cpus()


class InProcess:
    """Trials one after another in this process.

    ``threads``: fastnn/BLAS threads during the trials (the caller's setting
    is restored afterwards); None leaves the current setting.
    """

    def __init__(self, objective, metric, threads=None):
        self.objective, self.metric, self.threads = objective, metric, threads

    def __enter__(self):
        if self.threads is not None:
            import fastnn
            self._saved_threads = fastnn.get_num_threads()
            fastnn.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        if self.threads is not None:
            import fastnn
            fastnn.set_num_threads(self._saved_threads)

    def map(self, planned):
        for trial_id, params in planned:
            yield evaluate(self.objective, trial_id, params, self.metric)


# -- local worker processes ---------------------------------------------------

def _dumps(objective):
    try:
        import cloudpickle
    except ImportError:
        try:
            from joblib.externals import cloudpickle
        except ImportError:
            cloudpickle = pickle
    try:
        return cloudpickle.dumps(objective)
    except Exception as exc:
        raise TypeError(f"n_jobs > 1 sends the objective to worker processes, but it cannot be "
                        f"pickled ({type(exc).__name__}: {exc}).  Define it at module level, or "
                        f"install joblib (its cloudpickle handles lambdas and closures)") from exc


_worker = {"objective": None, "load_error": None}


def _init_worker(payload, threads, parent_pid):
    """Per worker process, once: thread limits, the objective, a parent watch."""
    import fastnn
    fastnn.set_num_threads(threads)
    try:
        _worker["objective"] = pickle.loads(payload)
    except Exception as exc:
        # Reported by every trial rather than breaking the pool, which would
        # hide the reason behind "a process terminated abruptly".
        _worker["load_error"] = f"the worker process could not load the objective: {type(exc).__name__}: {exc}"
    # A coordinator killed with SIGKILL cannot shut its pool down: leave with it.
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid):
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def _worker_trial(trial_id, params, metric):
    if _worker["load_error"] is not None:
        return Trial(id=trial_id, params=dict(params), status="failed", error=_worker["load_error"])
    return evaluate(_worker["objective"], trial_id, params, metric)


def _loky_executor():
    """joblib's loky ProcessPoolExecutor class, or None when joblib is not installed."""
    try:
        from joblib.externals.loky import ProcessPoolExecutor
    except ImportError:
        return None
    return ProcessPoolExecutor


class LocalProcesses:
    """caviar on this machine: ``n_jobs`` worker processes, ``threads`` threads each."""

    def __init__(self, objective, metric, n_jobs, threads=None):
        self.metric, self.n_jobs = metric, n_jobs
        self.threads = threads or max(1, usable_cores() // n_jobs)
        self._payload = _dumps(objective)
        self._loky = _loky_executor()
        self._pool = None

    def _executor(self):
        if self._pool is None:
            initargs = (self._payload, self.threads, os.getpid())
            if self._loky is not None:
                self._pool = self._loky(max_workers=self.n_jobs, initializer=_init_worker, initargs=initargs)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor
                # spawn: fresh interpreters; forking a process that may hold
                # threads (BLAS, OpenMP, Dask) can deadlock the children.
                self._pool = ProcessPoolExecutor(self.n_jobs, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=initargs)
        return self._pool

    def _discard(self, pool, wait=False):
        if pool is self._pool:
            self._pool = None
        if self._loky is not None:  # loky stops its workers when not waiting for them
            pool.shutdown(wait=wait, kill_workers=not wait)
        else:
            pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self._pool is not None:
            # On an error or Ctrl-C, do not wait for the trials still running.
            self._discard(self._pool, wait=exc_type is None)

    def map(self, planned):
        suspects = yield from self._run(planned, self.n_jobs)
        # Alone, a trial that crashes again is the one that kills its worker.
        crashed = yield from self._run([item for item, _ in suspects], 1)
        for (trial_id, params), exc in crashed:
            yield Trial(id=trial_id, params=dict(params), status="failed",
                        error=f"the worker process died while running this trial ({type(exc).__name__}: {exc})")

    def _run(self, planned, concurrency):
        """Yield the trials of ``planned``, ``concurrency`` at a time; return those
        lost to a dead worker as ``[((trial_id, params), error)]``."""
        queue, running, lost = deque(planned), {}, []
        while queue or running:
            self._fill(queue, running, concurrency)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            finished = []
            for future in done:
                if future not in running:  # lost with its pool below
                    continue
                item, pool = running.pop(future)
                try:
                    finished.append(future.result())
                except BrokenExecutor as exc:
                    # Every trial of that pool died with it: the culprit and
                    # innocent bystanders alike are suspects.
                    lost.append((item, exc))
                    for other, (other_item, other_pool) in list(running.items()):
                        if other_pool is pool:
                            lost.append((other_item, exc))
                            del running[other]
                    self._discard(pool)
                except Exception as exc:
                    finished.append(Trial(id=item[0], params=dict(item[1]), status="failed",
                                          error=f"{type(exc).__name__}: {exc}"))
            # Workers get their next trials before the caller stores these.
            self._fill(queue, running, concurrency)
            yield from finished
        return lost

    def _fill(self, queue, running, concurrency):
        while queue and len(running) < concurrency:
            item = queue.popleft()
            pool = self._executor()
            try:
                future = pool.submit(_worker_trial, *item, self.metric)
            except BrokenExecutor:
                # Broken before its running trials told us: start a new pool.
                self._discard(pool)
                pool = self._executor()
                future = pool.submit(_worker_trial, *item, self.metric)
            running[future] = (item, pool)


# -- Dask -------------------------------------------------------------------------

def _dask_trial(objective, trial_id, params, metric, threads, coordinator_pid):
    # In the coordinator's own process (a LocalCluster with processes=False)
    # the thread setting is the user's, shared by every task: leave it.
    if os.getpid() != coordinator_pid:
        import fastnn
        from distributed import get_worker
        fastnn.set_num_threads(threads or max(1, usable_cores() // max(1, get_worker().state.nthreads)))
    return evaluate(objective, trial_id, params, metric)


class DaskCluster:
    """caviar on a Dask cluster.

    ``client``: a ``dask.distributed.Client`` or a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a Client is then opened and closed here).
    ``threads``: threads per trial; by default each worker divides its
    machine's cores by its number of task slots.
    """

    def __init__(self, objective, metric, client, threads=None):
        self.objective, self.metric, self.threads = objective, metric, threads
        self._given = client
        self.client = None

    def __enter__(self):
        try:
            import distributed
        except ImportError:
            raise ImportError("run(client=...) needs dask.distributed, which is not installed: "
                              "pip install 'fastnn[distributed]'") from None
        if isinstance(self._given, str):
            self.client, self._own = distributed.Client(self._given), True
        elif hasattr(self._given, "submit") and hasattr(self._given, "scatter"):
            self.client, self._own = self._given, False
        else:
            raise TypeError(f"run(client=...): expected a dask.distributed.Client or a scheduler "
                            f"address string; got {type(self._given).__name__}")
        self._objective = self.client.scatter(self.objective, broadcast=True, hash=False)
        return self

    def __exit__(self, *exc):
        self._objective.release()  # the cluster may drop its copies now
        if self._own:
            self.client.close()

    def map(self, planned):
        from distributed import as_completed

        futures = {}
        for trial_id, params in planned:
            future = self.client.submit(_dask_trial, self._objective, trial_id, params, self.metric,
                                        self.threads, os.getpid(), pure=False)
            futures[future] = (trial_id, params)
        try:
            for future in as_completed(futures):
                trial_id, params = futures[future]
                try:
                    trial = future.result()
                except Exception as exc:
                    # The objective's own errors are caught on the worker; this
                    # is the cluster's (a worker lost, KilledWorker, ...).
                    trial = Trial(id=trial_id, params=dict(params), status="failed",
                                  error=f"{type(exc).__name__}: {exc}")
                yield trial
        finally:
            self.client.cancel(list(futures))
