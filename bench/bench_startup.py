"""Start-up of a data command (issue 12): ``convtool constants`` on the default instance against ``convtool --help``.

Each command runs in a fresh interpreter (as a user runs it), from the repository root, with the user cache
(:mod:`convtool.analysis.formcache`: compiled formulas and the start-up index) warm (one run fills it first,
in a temporary ``CONVTOOL_CACHE_DIR``) and, for comparison, cold (an empty folder). Ratios are medians of
interleaved rounds, of wall time (target: warm ``constants --json`` <= 5x ``--help``; the table form is
printed too) and of CPU time (user + system of the child: what a loaded machine does not distort).
``--against DIR`` also runs another checkout (e.g. ``git worktree add /tmp/before <commit>``) in the same
rounds, for before/after ratios measured in one run. ``--write`` puts the printed lines in bench/README.md.

``python bench/bench_startup.py [--quick] [--against DIR] [--write]``.
"""

from __future__ import annotations

import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import report  # noqa: E402

TARGET = 5.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(args, env, cwd=ROOT) -> tuple[float, float]:
    """(wall, cpu) seconds of ``python -m convtool.cli ARGS`` in a fresh interpreter."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convtool.cli", *args], env=env, cwd=cwd, capture_output=True, check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rounds, cold_rounds = (3, 2) if "--quick" in argv else (7, 3)
    against = argv[argv.index("--against") + 1] if "--against" in argv else None
    env_warm = {**os.environ, "CONVTOOL_CACHE_DIR": tempfile.mkdtemp(prefix="bench-startup-")}
    env_old = {**os.environ, "CONVTOOL_CACHE_DIR": tempfile.mkdtemp(prefix="bench-startup-old-")}
    timed(["constants", "--json"], env_warm)  # fills the cache
    if against:
        timed(["constants", "--json"], env_old, against)
    t: dict[str, list] = {k: [] for k in ("help", "warm", "table", "cold", "old_help", "old_warm")}
    for i in range(rounds):
        t["help"].append(timed(["--help"], env_warm))
        t["warm"].append(timed(["constants", "--json"], env_warm))
        t["table"].append(timed(["constants"], env_warm))
        if i < cold_rounds:
            env_cold = {**os.environ, "CONVTOOL_CACHE_DIR": tempfile.mkdtemp(prefix="bench-startup-cold-")}
            t["cold"].append(timed(["constants", "--json"], env_cold))
        if against:
            t["old_help"].append(timed(["--help"], env_old, against))
            t["old_warm"].append(timed(["constants", "--json"], env_old, against))

    def med(k, j):
        v = sorted(x[j] for x in t[k])
        return v[len(v) // 2]

    w, c = ({k: med(k, j) for k in t if t[k]} for j in (0, 1))
    r_warm, r_table, r_cold = w["warm"] / w["help"], w["table"] / w["help"], w["cold"] / w["warm"]
    lines = [f"bench_startup: medians of {rounds} interleaved rounds ({cold_rounds} cold), fresh interpreters, "
             f"{os.cpu_count()} CPU(s), PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}",
             f"  wall: --help {w['help']:.2f} s; constants --json (cache warm) {w['warm']:.2f} s; constants table "
             f"(warm) {w['table']:.2f} s; constants --json (cache cold) {w['cold']:.2f} s",
             f"  cpu:  --help {c['help']:.2f} s; constants --json (warm) {c['warm']:.2f} s; constants table (warm) "
             f"{c['table']:.2f} s; cold {c['cold']:.2f} s",
             f"  warm constants --json / --help: {r_warm:.1f}x wall, {c['warm'] / c['help']:.1f}x cpu "
             f"(target <= {TARGET}x): {'met' if r_warm <= TARGET else 'NOT met'}",
             f"  warm constants (table) / --help: {r_table:.1f}x wall, {c['table'] / c['help']:.1f}x cpu",
             f"  cold / warm constants --json: {r_cold:.1f}x wall (what the user cache saves)"]
    if against:
        lines += [f"  before ({against}): --help {w['old_help']:.2f} s, constants --json (warm) {w['old_warm']:.2f} s "
                  f"wall; constants / --help {w['old_warm'] / w['old_help']:.1f}x wall, "
                  f"{c['old_warm'] / c['old_help']:.1f}x cpu",
                  f"  before / after, warm constants --json: {w['old_warm'] / w['warm']:.1f}x wall, "
                  f"{c['old_warm'] / c['warm']:.1f}x cpu"]
    print("\n".join(lines))
    report("bench_startup", "convtool constants (cache warm) / convtool --help", r_warm, target=TARGET)
    report("bench_startup", "constants cache cold / warm", r_cold)
    if "--write" in argv:
        p = pathlib.Path(__file__).with_name("README.md")
        text = p.read_text()
        start, end = "<!-- bench_startup -->", "<!-- /bench_startup -->"
        block = start + "\n```\n" + "\n".join(lines) + "\n```\n" + end
        if start in text:
            head, rest = text.split(start, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.replace("## Performance", block + "\n\n## Performance", 1)
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
