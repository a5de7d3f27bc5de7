"""Benchmark for issue 13: a batch's Brent solves in lock-step over the seeds against one scipy brentq per seed.

Run by hand from the repository root::

    python bench/bench_lockstep_brent.py             # 30 interleaved rounds, about 15 s on 2 cores
    python bench/bench_lockstep_brent.py --quick     # 8 rounds
    python bench/bench_lockstep_brent.py --no-write  # print only, leave bench/README.md alone

Times ``_per_seed_constants`` (the per-seed constants of a batched run) on the 100 seeds of
``default_batch(seeds=100, seed=0, h=500)`` two ways, interleaved round by round in one process:

* lock-step: the pending ``roots.BrentQuery`` of one residual and shift (eq. 87's root, eq. 88's eta_K,
  eq. 88's root) solved together by ``_brentq.brentq_lockstep`` (one array evaluation of the residual per
  iteration for all active seeds);
* per seed: ``roots.BRENT_MIN`` raised above the batch size, so every query goes to scipy's compiled brentq on
  that seed's scalar residual, as before the change (the generators then called brentq themselves).

The results of the two are compared (``to_dict`` and ``values``, ``==``) before timing. Printed: min and median
of each, and the per-seed / lock-step ratio of the minima (> 1: lock-step faster). The numbers go into
bench/README.md between ``<!-- bench_lockstep_brent -->`` and ``<!-- /bench_lockstep_brent -->``.
"""

from __future__ import annotations

import os
import sys

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _readme import replace_block
from _results import report

BLAS_THREADS = pin_blas_threads()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from convtool.numeric import roots  # noqa: E402
from convtool.numeric.experiments import default_batch  # noqa: E402
from convtool.numeric.models import TwoLayerLinear  # noqa: E402
from convtool.numeric.theories.local_pl import _per_seed_constants  # noqa: E402

BEGIN, END = "<!-- bench_lockstep_brent -->", "<!-- /bench_lockstep_brent -->"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--threads", type=int, default=None)  # read by _threads.pin_blas_threads
    opts = ap.parse_args()
    rounds = 8 if opts.quick else 30
    b = default_batch(seeds=100, seed=0, h=500)
    m = TwoLayerLinear(b.W1, b.W2)
    lockstep_min = roots.BRENT_MIN

    def go():
        return _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, None, m.reductions)

    modes = {"lock-step": lockstep_min, "per seed": 10 ** 9}
    outs = {}
    for name, k in modes.items():
        roots.BRENT_MIN = k
        res, warn = go()
        outs[name] = json.dumps([[r.to_dict() for r in res], [sorted((a, repr(v)) for a, v in r.values.items())
                                                              for r in res], warn], default=repr)
    same = outs["lock-step"] == outs["per seed"]
    times = {k: [] for k in modes}
    for i in range(rounds):
        order = list(modes) if i % 2 else list(modes)[::-1]
        for name in order:
            roots.BRENT_MIN = modes[name]
            t0 = time.perf_counter()
            go()
            times[name].append(time.perf_counter() - t0)
    roots.BRENT_MIN = lockstep_min
    ratio = min(times["per seed"]) / min(times["lock-step"])
    med = statistics.median(times["per seed"]) / statistics.median(times["lock-step"])
    lines = [f"bench_lockstep_brent: _per_seed_constants, 100 seeds of default_batch(seed=0, h=500), {rounds} "
             f"interleaved rounds, {BLAS_THREADS} BLAS thread(s), {os.cpu_count()} CPU(s)"]
    for name in modes:
        t = times[name]
        lines.append(f"  {name:9s}: min {1e3 * min(t):.1f} ms, median {1e3 * statistics.median(t):.1f} ms")
    lines.append(f"  per seed / lock-step: {ratio:.3f}x (minima), {med:.3f}x (medians); results identical: {same}")
    text = "\n".join(lines)
    print(text)
    report("bench_lockstep_brent", "per-seed brentq / lock-step brentq, 100 seeds' constants", ratio, target=1.0,
           op=">=", note="minima of interleaved rounds")
    if not same:
        sys.exit("the two ways gave different results")
    if not opts.no_write:
        replace_block(os.path.join(HERE, "README.md"), BEGIN, END, f"{BEGIN}\n```\n{text}\n```\n{END}")


if __name__ == "__main__":
    main()
