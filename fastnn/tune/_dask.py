"""The worker side of ``runners.DaskCluster``, imported only by a search on Dask.

Design: the objective reaches the workers as a worker plugin rather than as
scattered data.  The scheduler keeps registered plugins and sets them up on
every worker that joins later or restarts (its nanny starting a new process),
whereas scattered data dies with the last worker holding it, taking every
trial that needs it along.
"""
import os

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from fastnn.tune.runners import load_objective, trial_within, usable_cores

__all__ = ["ObjectiveOnWorkers", "trial_on_worker"]


class ObjectiveOnWorkers(WorkerPlugin):
    """The search's objective (pickled by the coordinator), loaded once per worker."""

    def __init__(self, payload):
        self.payload = payload
        self.loaded = (None, "the objective was not loaded on this worker")

    def setup(self, worker):
        self.loaded, self.payload = load_objective(self.payload), None  # one copy of the data is enough

    def teardown(self, worker):
        self.loaded = (None, "the search is over")


def trial_on_worker(plugin, trial_id, params, budget, metric, threads, timeout, coordinator_pid):
    """``(trial, hung)``: ``hung`` is None, or ``(worker address, has a nanny)``
    when a thread of this worker still runs the trial, over its timeout."""
    worker = get_worker()
    # In the coordinator's own process (a LocalCluster with processes=False)
    # the thread setting is the user's, shared by every task: leave it.
    if os.getpid() != coordinator_pid:
        import fastnn
        fastnn.set_num_threads(threads or max(1, usable_cores() // max(1, worker.state.nthreads)))
    if plugin not in worker.plugins:
        raise RuntimeError(f"the Dask worker {worker.address} has not loaded the search's objective "
                           f"(worker plugin {plugin})")
    trial, hung = trial_within(worker.plugins[plugin].loaded, trial_id, params, budget, metric, timeout)
    return trial, ((worker.address, worker.nanny is not None) if hung else None)
