"""Where trials run: caviar (many models in parallel) or one after another.

- ``InProcess``: one trial at a time in the coordinating process (``n_jobs=1``).
- ``LocalProcesses``: caviar on this machine, ``n_jobs`` worker processes
  (joblib's loky when joblib is installed, else the standard library's
  ProcessPoolExecutor with fresh "spawn" interpreters).
- ``DaskCluster``: caviar on a Dask cluster, given a ``dask.distributed.Client``
  or a scheduler address (the ``distributed`` extra).
- ``runner_for``: which of them a search's settings call for.

Design:
- A runner's ``map(planned)`` yields each trial's outcome as it finishes; the
  coordinator stores it at once.  Workers never touch the store.  ``planned``
  holds ``(trial_id, params, budget)`` tasks (``budget``: None, or what
  ``objectives.evaluate`` says for successive halving's rungs).  Given a
  ``collections.deque``, a runner takes its tasks from it as workers free up,
  so the caller may add tasks (``appendleft``: next in line) while it consumes
  the outcomes: asynchronous successive halving feeds its promotions so.
- The objective (a Builder carries its data) is sent once per worker, not
  once per trial: pickled once here, loaded by each worker's initializer (on
  Dask by a worker plugin, which the scheduler also hands to every worker
  that joins or restarts during the search).  cloudpickle is used when
  available, so lambdas and closures work.
- Each worker limits fastnn's and BLAS's threads to ``cores // n_jobs`` so
  parallel trials share the cores instead of oversubscribing them.
- An objective that ends its own run (``sys.exit``, a KeyboardInterrupt it
  raises) is a failed trial (objectives.evaluate), whichever runner runs it.
  The user's Ctrl-C still stops a search: in this process a SIGINT handler
  notes it, so a trial that caught it is not taken for finished; worker
  processes ignore SIGINT and are stopped by their coordinator.
- A worker process that dies (segfault, ``os._exit``, out of memory) takes
  its running trials with it.  They are re-run one at a time afterwards, so a
  crash is pinned on the trial that causes it: that one is recorded as
  failed, the others run normally.  On Dask the scheduler re-runs a lost
  worker's tasks itself; a task it gives up on (KilledWorker) is a suspect
  re-run alone in the same way.
- A trial the infrastructure loses is not the trial's failure.  On Dask a
  trial cancelled (``client.restart()``) or lost otherwise is submitted
  again, up to ``_RESUBMITS`` times; beyond that it is not stored, so that
  running the search again runs it, and ``map`` ends with a TrialsLost error
  once the other trials are done.  Each result is released as soon as it
  arrives, and only a few trials per task slot are submitted at a time: a
  worker dying later has no finished trial to recompute, and re-submitting
  is cheap.
- ``timeout`` (the search's ``timeout_per_trial``): only the end of its
  process stops a trial that hangs; Python can interrupt neither a thread nor
  a call into C.  So with a timeout, trials always run in worker processes
  (n_jobs=1 too), each in a thread that the worker waits for at most
  ``timeout`` seconds.  Over time, the worker reports the trial as "timeout"
  and the coordinator ends the worker's process: LocalProcesses kills its
  pool (trials running beside the hung one are re-run, not counted as
  failures); DaskCluster has the worker's nanny restart it (a worker without
  a nanny keeps the hung thread, with a warning).  A trial stuck in C code
  that holds the GIL keeps its worker from reporting: LocalProcesses stops it
  ``_REPORT_GRACE`` seconds later by its own clock.  A Dask worker in that
  state misses its heartbeats: the scheduler drops it after
  ``distributed.scheduler.worker-ttl`` (5 minutes by default) and handles
  the trial as a worker lost (run elsewhere; alone once it gives up on it).
"""
import asyncio
import os
import pickle
import signal
import threading
import time
import uuid
import warnings
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait

from fastnn._runtime import usable_cpus
from fastnn.tune.objectives import evaluate
from fastnn.tune.results import Trial

__all__ = ["InProcess", "LocalProcesses", "DaskCluster", "runner_for", "usable_cores", "TrialsLost"]

# How many times a trial the Dask cluster loses (cancelled, its data lost) is submitted again.
_RESUBMITS = 5
# Seconds past a trial's timeout that LocalProcesses waits for its worker's word:
# beyond the worker's start-up (imports, loading the objective), only a worker
# stuck in C code that holds the GIL is silent that long.
_REPORT_GRACE = 30.0


def usable_cores():
    """CPUs this process may use: its affinity mask and its cgroup's CPU quota
    (fastnn._runtime.usable_cpus, which also sets fastnn's default threads)."""
    return usable_cpus()


def runner_for(objective, metric, *, client=None, n_jobs=1, threads=None, timeout=None):
    """The runner for a search's settings: the Dask cluster of ``client``;
    worker processes for ``n_jobs`` > 1, and for one job with a ``timeout``
    (only the end of a process stops a hung trial); else this process."""
    if client is not None:
        return DaskCluster(objective, metric, client, threads, timeout)
    if n_jobs > 1 or timeout is not None:
        if n_jobs == 1 and threads is None:
            import fastnn
            threads = fastnn.get_num_threads()  # one job keeps the caller's setting, as in this process
        return LocalProcesses(objective, metric, n_jobs, threads, timeout)
    return InProcess(objective, metric, threads)


class TrialsLost(RuntimeError):
    """Trials a Dask cluster lost more than ``_RESUBMITS`` times (cancelled, or
    their worker lost).  They are not stored, so that running the search
    again runs them; ``trial_ids`` names them."""

    def __init__(self, trial_ids, last_error):
        self.trial_ids = list(trial_ids)
        n, attempts = len(self.trial_ids), _RESUBMITS + 1
        super().__init__(
            f"{'1 trial was' if n == 1 else f'{n} trials were'} lost to the cluster {attempts} "
            f"time{'s' * (attempts > 1)} and given up ({', '.join(self.trial_ids)}); last: "
            f"{type(last_error).__name__}: {last_error}.  Not stored: running the search again runs "
            f"{'it' if n == 1 else 'them'} (the store keeps the trials that finished)")


class InProcess:
    """Trials one after another in this process.

    ``threads``: fastnn/BLAS threads during the trials (the caller's setting
    is restored afterwards); None leaves the current setting.
    """

    def __init__(self, objective, metric, threads=None):
        self.objective, self.metric, self.threads = objective, metric, threads
        self._ctrl_c = _CtrlC()

    def __enter__(self):
        if self.threads is not None:
            import fastnn
            self._saved_threads = fastnn.get_num_threads()
            fastnn.set_num_threads(self.threads)
        self._ctrl_c.install()
        return self

    def __exit__(self, *exc):
        self._ctrl_c.uninstall()
        if self.threads is not None:
            import fastnn
            fastnn.set_num_threads(self._saved_threads)

    def map(self, planned):
        queue = task_queue(planned)
        while queue:
            trial_id, params, budget = queue.popleft()
            trial = evaluate(self.objective, trial_id, params, self.metric, budget)
            if self._ctrl_c.pressed:
                # The user's Ctrl-C, caught in the trial (by evaluate or by the
                # objective): the search stops, and the trial is not stored.
                raise KeyboardInterrupt
            yield trial


class _CtrlC:
    """Notes the user's Ctrl-C while installed, then hands SIGINT on to the
    handler it replaced (Python's raises KeyboardInterrupt).

    Only the main thread receives signals: in another thread, or when SIGINT
    is ignored or left to the OS, no Ctrl-C can surface in a trial, and
    ``pressed`` stays False.
    """

    def __init__(self):
        self.pressed = False
        self._replaced = None

    def install(self):
        self.pressed = False
        if threading.current_thread() is not threading.main_thread():
            return
        replaced = signal.getsignal(signal.SIGINT)
        if not callable(replaced):
            return

        def note(signum, frame):
            self.pressed = True
            replaced(signum, frame)

        signal.signal(signal.SIGINT, note)
        self._replaced = replaced

    def uninstall(self):
        if self._replaced is not None:
            signal.signal(signal.SIGINT, self._replaced)
            self._replaced = None


# -- what worker processes run (local and Dask) --------------------------------

def _dumps(objective, purpose):
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
        raise TypeError(f"{purpose}, but it cannot be pickled ({type(exc).__name__}: {exc}).  "
                        f"Define it at module level, or install joblib (its cloudpickle handles lambdas "
                        f"and closures)") from exc


def load_objective(payload):
    """``(objective, None)``, or ``(None, why it could not be loaded)``: reported
    by every trial rather than breaking the pool or the worker, which would hide
    the reason behind "a process terminated abruptly"."""
    try:
        return pickle.loads(payload), None
    except Exception as exc:
        return None, f"the worker process could not load the objective: {type(exc).__name__}: {exc}"


def task_queue(planned):
    """``planned`` as a deque of tasks, the given deque itself if it is one
    (its owner may add tasks while the runner works through it)."""
    return planned if isinstance(planned, deque) else deque(planned)


def trial_within(loaded, trial_id, params, budget, metric, timeout):
    """``(trial, hung)``: the trial of the ``(objective, load error)`` pair
    ``loaded``; with a ``timeout``, run in a thread waited for at most that
    long, and ``hung`` when the thread still runs it (only the end of this
    process stops it)."""
    objective, load_error = loaded
    if load_error is not None:
        return Trial(id=trial_id, params=dict(params), status="failed", error=load_error), False
    if timeout is None:
        return evaluate(objective, trial_id, params, metric, budget), False
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(evaluate(objective, trial_id, params, metric,
                                                                     budget)),
                              name=f"fastnn.tune trial {trial_id}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome and thread.is_alive():
        return _timed_out(trial_id, params, budget, timeout), True
    return outcome[0], False


def _timed_out(trial_id, params, budget, timeout, note=""):
    return Trial(id=trial_id, params=dict(params), status="timeout", seconds=timeout,
                 error=f"stopped after timeout_per_trial = {timeout:g} s{note}")


# -- caviar: trials in worker processes ---------------------------------------------

class _Caviar:
    """What LocalProcesses and DaskCluster share: trials whose worker died are
    suspects, re-run one at a time once the others are done.

    A subclass defines ``_run(planned, alone)``: yield the trials of
    ``planned`` (one at a time when ``alone``) and return those lost to a dead
    worker as ``[((trial_id, params), error)]``; the trials it gives up on
    (Dask) go to ``self._given_up`` the same way.
    """

    def map(self, planned):
        self._given_up = []
        suspects = yield from self._run(planned, alone=False)
        # Alone, a trial that crashes again is the one that kills its worker.
        crashed = yield from self._run([item for item, _ in suspects], alone=True)
        for (trial_id, params, _), exc in crashed:
            yield Trial(id=trial_id, params=dict(params), status="failed",
                        error=f"the worker process died while running this trial ({type(exc).__name__}: {exc})")
        if self._given_up:
            raise TrialsLost([item[0] for item, _ in self._given_up], self._given_up[-1][1])


# -- local worker processes ---------------------------------------------------

# The objective of this worker process: (objective, load error), see load_objective.
_worker = {"loaded": (None, "the worker process was not initialized")}


def _init_worker(payload, threads, parent_pid):
    """Per worker process, once: thread limits, SIGINT, the objective, a parent watch."""
    import fastnn
    fastnn.set_num_threads(threads)
    # A Ctrl-C in a terminal reaches every process of its group.  It is the
    # coordinator's to act on (it stops the workers); here a KeyboardInterrupt
    # is then always the objective's own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker["loaded"] = load_objective(payload)
    # A coordinator killed with SIGKILL cannot shut its pool down: leave with it.
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid):
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def _worker_trial(trial_id, params, budget, metric, timeout):
    return trial_within(_worker["loaded"], trial_id, params, budget, metric, timeout)


def _loky_executor():
    """joblib's loky ProcessPoolExecutor class, or None when joblib is not installed."""
    try:
        from joblib.externals.loky import ProcessPoolExecutor
    except ImportError:
        return None
    return ProcessPoolExecutor


class LocalProcesses(_Caviar):
    """caviar on this machine: ``n_jobs`` worker processes, ``threads`` threads
    each; ``timeout``: seconds a trial may run (None: no limit)."""

    def __init__(self, objective, metric, n_jobs, threads=None, timeout=None):
        self.metric, self.n_jobs, self.timeout = metric, n_jobs, timeout
        self.threads = threads or max(1, usable_cores() // n_jobs)
        self._payload = _dumps(objective, "n_jobs > 1 sends the objective to worker processes" if n_jobs > 1
                               else "timeout_per_trial runs the trials in a worker process")
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
        """Shut ``pool`` down; unless waiting for its trials, kill its workers."""
        if pool is self._pool:
            self._pool = None
        if self._loky is not None:  # loky kills its workers when not waiting for them
            pool.shutdown(wait=wait, kill_workers=not wait)
            return
        if not wait:
            # The standard library's pool lets running trials finish, and a hung one never does.
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=wait, cancel_futures=True)

    def _drop(self, pool, running):
        """Kill ``pool``; take its trials out of ``running`` and return them."""
        mine = [future for future, (_, other, _) in running.items() if other is pool]
        self._discard(pool)
        return [running.pop(future)[0] for future in mine]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self._pool is not None:
            # On an error or Ctrl-C, do not wait for the trials still running.
            self._discard(self._pool, wait=exc_type is None)

    def _run(self, planned, alone):
        concurrency = 1 if alone else self.n_jobs
        # running: future -> ((trial_id, params), its pool, when to stop waiting for it)
        queue, running, lost = task_queue(planned), {}, []
        while queue or running:
            self._fill(queue, running, concurrency)
            deadlines = [deadline for _, _, deadline in running.values() if deadline is not None]
            patience = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            done, _ = wait(running, timeout=patience, return_when=FIRST_COMPLETED)
            finished, hung_pools = [], set()
            for future in done:
                if future not in running:  # lost with its pool below
                    continue
                item, pool, _ = running.pop(future)
                try:
                    trial, hung = future.result()
                except BrokenExecutor as exc:
                    # Every trial of that pool died with it: the culprit and
                    # innocent bystanders alike are suspects.
                    lost.append((item, exc))
                    lost += [(other, exc) for other in self._drop(pool, running)]
                    continue
                except Exception as exc:
                    trial, hung = Trial(id=item[0], params=dict(item[1]), status="failed",
                                        error=f"{type(exc).__name__}: {exc}"), False
                finished.append(trial)
                if hung:
                    hung_pools.add(pool)
            now = time.monotonic()
            for future, (item, pool, deadline) in list(running.items()):
                if deadline is not None and now >= deadline:
                    del running[future]
                    finished.append(_timed_out(*item, self.timeout, " (its worker did not answer: stuck "
                                                                    "in code that holds the GIL?)"))
                    hung_pools.add(pool)
            for pool in hung_pools:
                # Only the end of its process stops a hung trial.  The trials
                # running beside it are innocent: they run again, first.
                queue.extendleft(reversed(self._drop(pool, running)))
            # Workers get their next trials before the caller stores these.
            self._fill(queue, running, concurrency)
            yield from finished
        return lost

    def _fill(self, queue, running, concurrency):
        while queue and len(running) < concurrency:
            item = queue.popleft()
            pool = self._executor()
            try:
                future = pool.submit(_worker_trial, *item, self.metric, self.timeout)
            except BrokenExecutor:
                # Broken before its running trials told us: start a new pool.
                self._discard(pool)
                pool = self._executor()
                future = pool.submit(_worker_trial, *item, self.metric, self.timeout)
            # At most n_jobs trials are out, so each starts at once (a new
            # worker's start-up aside, which the grace covers).
            deadline = None if self.timeout is None else time.monotonic() + self.timeout + _REPORT_GRACE
            running[future] = (item, pool, deadline)


# -- Dask -------------------------------------------------------------------------

class DaskCluster(_Caviar):
    """caviar on a Dask cluster.

    ``client``: a ``dask.distributed.Client`` or a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a Client is then opened and closed here).
    ``threads``: threads per trial; by default each worker divides its
    machine's cores by its number of task slots.  ``timeout``: seconds a
    trial may run (None: no limit).
    """

    def __init__(self, objective, metric, client, threads=None, timeout=None):
        self.metric, self.threads, self.timeout = metric, threads, timeout
        self._payload = _dumps(objective, "run(client=...) sends the objective to the Dask workers")
        self._given = client
        self.client = None

    def __enter__(self):
        try:
            import distributed
        except ImportError:
            raise ImportError("run(client=...) needs dask.distributed, which is not installed: "
                              "pip install 'fastnn[distributed]'") from None
        from fastnn.tune._dask import ObjectiveOnWorkers

        if isinstance(self._given, str):
            self.client, self._own = distributed.Client(self._given), True
        elif hasattr(self._given, "submit") and hasattr(self._given, "register_plugin"):
            self.client, self._own = self._given, False
        else:
            raise TypeError(f"run(client=...): expected a dask.distributed.Client or a scheduler "
                            f"address string; got {type(self._given).__name__}")
        self._plugin = f"fastnn.tune-{uuid.uuid4().hex}"
        try:
            self.client.register_plugin(ObjectiveOnWorkers(self._payload), name=self._plugin)
        except BaseException:
            if self._own:
                self.client.close()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.client.unregister_worker_plugin(self._plugin)  # the workers drop the objective
        except Exception:
            pass  # the cluster is gone (maybe why the search stopped): nothing is left to tidy
        finally:
            if self._own:
                self.client.close()

    def _run(self, planned, alone):
        from distributed import KilledWorker, as_completed

        from fastnn.tune._dask import trial_on_worker

        queue, running, killed, losses = task_queue(planned), {}, [], Counter()
        completed = as_completed(loop=self.client.loop)

        def fill():
            if not queue:
                return
            # Two per task slot (at least two): each slot has its next trial at
            # hand while this process stores the last one.
            limit = 1 if alone else max(2, 2 * sum(self.client.nthreads().values()))
            while queue and len(running) < limit:
                item = queue.popleft()
                future = self.client.submit(trial_on_worker, self._plugin, *item, self.metric, self.threads,
                                            self.timeout, os.getpid(), pure=False)
                running[future] = item
                completed.add(future)

        try:
            fill()
            for future in completed:
                item, trial = running.pop(future), None
                try:
                    trial, hung = future.result()
                except KilledWorker as exc:
                    # The scheduler ran it on workers that all died while running it.
                    killed.append((item, exc))
                except (Exception, asyncio.CancelledError) as exc:  # asyncio's is no Exception
                    # Cancelled (a restarted cluster) or lost: the trial did not
                    # run to its end.  It goes first in line again.
                    losses[item[0]] += 1
                    if losses[item[0]] > _RESUBMITS:
                        self._given_up.append((item, exc))
                    else:
                        queue.appendleft(item)
                else:
                    if hung is not None:
                        self._stop(*hung)
                finally:
                    # The cluster forgets the trial now: a worker dying later has nothing to recompute.
                    future.release()
                fill()
                if trial is not None:
                    yield trial
        finally:
            self.client.cancel(list(running))
        return killed

    def _stop(self, address, has_nanny):
        """End the worker whose thread still runs a trial over time."""
        if has_nanny:
            # Its nanny starts a new process; the scheduler re-runs the other
            # trials it was running elsewhere.
            self.client.restart_workers([address], raise_for_error=False)
        else:
            warnings.warn(f"a trial ran over timeout_per_trial on the Dask worker {address}, which has "
                          f"no nanny to restart it: the trial's thread runs on there until its objective "
                          f"returns", RuntimeWarning, stacklevel=2)
