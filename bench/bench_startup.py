"""Start-up of a data command (issue 12): ``convtool constants`` on the default instance against ``convtool --help``.

Each command runs in a fresh interpreter (as a user runs it), with the stable-form cache warm (one run
fills it first, in a temporary ``CONVTOOL_CACHE_DIR``) and, for comparison, cold. Ratios (medians of
interleaved rounds): warm constants / --help (target <= 5x) and cold / warm (what the cache saves).
``python bench/bench_startup.py [--quick]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import report  # noqa: E402

TARGET = 5.0


def wall(args, env) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convtool.cli", *args], env=env, capture_output=True, check=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rounds = 3 if "--quick" in argv else 7
    warm_dir = tempfile.mkdtemp(prefix="bench-startup-")
    env_warm = {**os.environ, "CONVTOOL_CACHE_DIR": warm_dir}
    wall(["constants", "--json"], env_warm)  # fills the cache
    t = {"help": [], "warm": [], "cold": []}
    for _ in range(rounds):
        t["help"].append(wall(["--help"], env_warm))
        t["warm"].append(wall(["constants", "--json"], env_warm))
        env_cold = {**os.environ, "CONVTOOL_CACHE_DIR": tempfile.mkdtemp(prefix="bench-startup-cold-")}
        t["cold"].append(wall(["constants", "--json"], env_cold))
    med = {k: sorted(v)[len(v) // 2] for k, v in t.items()}
    r_warm, r_cold = med["warm"] / med["help"], med["cold"] / med["warm"]
    print(f"bench_startup: medians of {rounds} interleaved rounds, fresh interpreters")
    print(f"  convtool --help {med['help']:.2f} s; constants (cache warm) {med['warm']:.2f} s; "
          f"constants (cache cold) {med['cold']:.2f} s")
    print(f"  warm constants / --help: {r_warm:.1f}x (target <= {TARGET}x): {'met' if r_warm <= TARGET else 'NOT met'}")
    print(f"  cold / warm: {r_cold:.1f}x (what the stable-form cache saves)")
    report("bench_startup", "convtool constants (cache warm) / convtool --help", r_warm, target=TARGET)
    report("bench_startup", "constants cache cold / warm", r_cold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
