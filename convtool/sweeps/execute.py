"""Where a sweep's runs execute: this process, local worker processes, or a Dask cluster.

:func:`execute` yields ``(index, row)`` as runs complete, in any order. Per-run overhead (interpreter start,
imports, sympy compilation) is paid once per worker: the workers are long-lived, forked from a forkserver
that imported convtool once, and warm their compiled formulas in :func:`_init_worker`, with one BLAS thread
each (several runs share the cores already).

Dask (``pip install convtool[dask]``): ``scheduler = "tcp://HOST:PORT"`` submits to an existing cluster,
``"auto"`` starts a ``dask.distributed.LocalCluster`` on 127.0.0.1. At most ``2 * workers`` runs are in
flight, and each result is released as soon as it is read, so the scheduler never holds the sweep's
results. A run whose worker dies is rescheduled by Dask on another worker; ``retries`` bounds the
reruns (``distributed.scheduler.allowed-failures`` for a cluster started here, and Dask's task
``retries``); a run that still fails is a failed row, not a lost one.
"""

from __future__ import annotations

import os

from convtool.errors import InputError

__all__ = ["execute", "DASK_HINT"]

DASK_HINT = "--scheduler needs Dask: pip install 'convtool[dask]' (dask[distributed])"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _init_worker(warm: dict | None = None, data: str | None = None) -> None:
    """Import convtool's run path once per worker process and, with ``warm`` (a point), run it for 0 steps
    so that what the runs compile (sympy formulas, lambdified evaluators) is compiled here, once."""
    import convtool.cli.cmd_run  # noqa: F401
    import convtool.numeric.engine  # noqa: F401

    if warm is not None:
        from convtool.sweeps.point import run_point

        run_point({**warm, "steps": 0}, data)


def _task(index: int, point: dict, data: str | None = None):
    from convtool.sweeps.point import run_point

    return index, run_point(point, data)


def _local(todo, jobs):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})  # inherited by the spawned workers
    try:
        # forkserver: one server process imports convtool once (with one BLAS thread: the variables above are
        # set before it starts) and forks each worker from it, so a worker starts in milliseconds with the imports
        # done; spawn (a fresh interpreter per worker) where forkserver does not exist
        methods = multiprocessing.get_all_start_methods()
        if "forkserver" in methods:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["convtool.cli.cmd_run", "convtool.numeric.engine", "convtool.sweeps.point"])
        else:
            ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(todo[0][1], todo[0][2])) as pool:
            futs = [pool.submit(_task, i, p, d) for i, p, d in todo]
            for fut in as_completed(futs):
                yield fut.result()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _dask(todo, jobs, scheduler, retries):
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError(DASK_HINT) from None
    import uuid

    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": int(retries)}):
        if scheduler == "auto":
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, env={k: "1" for k in _THREAD_VARS})
            address = cluster
        else:
            address = scheduler
            _probe(scheduler)
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            nworkers = max(1, len(client.scheduler_info().get("workers", {})) or jobs)
            pending = list(todo)
            tag = uuid.uuid4().hex[:8]

            def submit(item):
                i, p, d = item
                return client.submit(_task, i, p, d, key=f"convtool-run-{tag}-{i}", pure=False,
                                     retries=int(retries))

            window = max(2, 2 * nworkers)
            first = [submit(pending.pop(0)) for _ in range(min(window, len(pending)))]
            ac = as_completed(first)
            for fut in ac:
                try:
                    yield fut.result()
                except Exception as exc:  # KilledWorker after the retries, or a worker-side failure
                    i = int(fut.key.rsplit("-", 1)[1])
                    yield i, {"run_status": "failed", "error": f"{type(exc).__name__}: {exc}", "wall_time": None}
                fut.release()
                if pending:
                    ac.add(submit(pending.pop(0)))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _probe(address: str) -> None:
    """Fail at once (not after the client's timeout) when nothing listens at a ``tcp://HOST:PORT`` address."""
    import socket
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return
    u = urlsplit(address)
    if not u.hostname or not u.port:
        raise InputError(f"--scheduler {address}: give tcp://HOST:PORT or auto")
    try:
        socket.create_connection((u.hostname, u.port), timeout=5).close()
    except OSError as exc:
        raise InputError(f"--scheduler {address}: cannot connect ({exc.strerror or exc})") from None


def execute(todo, *, jobs: int = 1, scheduler: str | None = None, retries: int = 2):
    """Yield ``(index, row)`` for every ``(index, point, data file)`` in ``todo`` (module docstring)."""
    todo = list(todo)
    if not todo:
        return
    if scheduler:
        yield from _dask(todo, max(1, jobs), scheduler, retries)
        return
    if jobs <= 1 or len(todo) == 1:
        for i, p, d in todo:
            yield _task(i, p, d)
        return
    yield from _local(todo, min(jobs, len(todo)))
