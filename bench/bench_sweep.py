"""convtool sweep on local processes against a serial loop (issue 11): throughput, and per-run overhead.

A two-layer sweep of ``POINTS`` runs (width x seed, a few hundred GD steps each) runs twice in this
process's session: serially in this process (``jobs=1``, the loop a user would write around
``convtool run``), and on ``jobs`` spawned worker processes (default: the core count). Ratios:

* throughput ``serial wall / parallel wall`` (target >= 1.6x on 2 cores for 200 points);
* per-run overhead paid once per worker: the slowest run on the workers against the median run
  (target <= 3x: a worker's imports and sympy compilation happen in its initializer, not in a run).

``python bench/bench_sweep.py [--quick] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import report  # noqa: E402

TARGET_THROUGHPUT = 1.6
TARGET_OVERHEAD = 3.0


def spec(points: int) -> str:
    widths = [20, 30, 40, 50]
    seeds = max(1, points // len(widths))
    return (f"[options]\nsteps = 300\n[grid]\nwidth = {widths}\nseed = {{range = [0, {seeds}]}}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 points instead of 200")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    from convtool.sweeps import parse_spec, run_sweep

    points = 40 if a.quick else 200
    sp = parse_spec(spec(points))
    tmp = tempfile.mkdtemp(prefix="bench-sweep-")
    try:
        t0 = time.perf_counter()
        serial = run_sweep(sp, os.path.join(tmp, "serial"), jobs=1)
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        par = run_sweep(sp, os.path.join(tmp, "par"), jobs=a.jobs)
        t_par = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert serial.failed == par.failed == 0
    walls = sorted(r["wall_time"] for r in par.rows)
    med = walls[len(walls) // 2]
    thr, over = t_serial / t_par, walls[-1] / med
    print(f"bench_sweep: {len(sp.points)} two-layer runs, {a.jobs} worker process(es), {os.cpu_count()} cpu(s)")
    print(f"  serial in-process: {t_serial:.1f} s; local processes: {t_par:.1f} s")
    print(f"  throughput parallel / serial: {thr:.2f}x (target >= {TARGET_THROUGHPUT}x on 2 cores, 200 points): "
          f"{'met' if thr >= TARGET_THROUGHPUT else 'NOT met'}")
    print(f"  slowest / median run on the workers: {over:.2f}x (target <= {TARGET_OVERHEAD}x: overhead paid once "
          f"per worker): {'met' if over <= TARGET_OVERHEAD else 'NOT met'}")
    report("bench_sweep", f"throughput local processes / serial ({len(sp.points)} runs, {a.jobs} jobs)", thr,
           target=TARGET_THROUGHPUT, op=">=")
    report("bench_sweep", "slowest / median run on the workers", over, target=TARGET_OVERHEAD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
