"""Peak memory of ``convtool run`` follows the steps taken, not ``--steps`` (issue 15).

Runs ``convtool run --steps N --json`` on the built-in default instance (it converges at step ~16) for
N = 10^3 and N = 10^7, each in its own process, and reports the peak resident set size of each and
their ratio (target: within 2x). Before issue 15 the 10^7 run took 5.2 GB and 63 s.

    python bench/bench_memory.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time


def peak_rss(steps: int) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one ``convtool run --steps steps`` process."""
    code = ("import resource, sys; from convtool.cli.main import cli; "
            f"sys.argv = ['convtool', 'run', '--steps', '{steps}', '--json']; "
            "\ntry:\n    cli()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(r.stderr.strip().splitlines()[-1]) / 1024.0, time.perf_counter() - t0


def main() -> int:
    small, t_small = peak_rss(10 ** 3)
    big, t_big = peak_rss(10 ** 7)
    print(f"--steps 1e3: peak RSS {small:.0f} MB, {t_small:.1f} s")
    print(f"--steps 1e7: peak RSS {big:.0f} MB, {t_big:.1f} s")
    print(f"ratio 1e7 / 1e3: {big / small:.2f}x (target <= 2x)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _results import report

    report("bench_memory", "peak RSS --steps 1e7 / 1e3", big / small, target=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
