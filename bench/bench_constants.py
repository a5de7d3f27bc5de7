"""Benchmark for issue 2: ``compute_constants`` against the dense h x h way.

Run by hand from the repository root::

    python bench/bench_constants.py            # about 20 s on 2 cores
    python bench/bench_constants.py --quick    # fewer repetitions (one dense run at h = 4000)

For the Fig. 1 instance (n = m = 10, ``fig1(h=h, seed=0)``) and h in {500, 1000, 4000}
it times

* convtool: ``compute_constants(SquaredLoss(X, Y), W1, W2)``: every constant, with the
  spectra taken through the width reduction (no h x h matrix is formed);
* dense: the naive reference written below: form the h x h imbalance
  ``D0 = W1^T W1 - W2^T W2``, ``np.linalg.eigvalsh(D0)``, and full SVDs
  (``np.linalg.svd`` with its defaults) of W1 and W2. It computes only the spectra,
  not the rest of the constants, so the ratio understates convtool's advantage.

Python start-up and the one-time sympy compilation are excluded: ``compute_constants``
is called once before the timing. Each time is the minimum over repetitions
(the median is printed too); the two computations are run interleaved (round-robin)
so that a slow spell of the shared machine affects both alike. The printed ratio is dense / convtool (> 1: convtool
faster). The check compares lambda_max(D0) and lambda_n(D0) (n-th largest eigenvalue)
and, as an extra, lambda_max(-D0), lambda_m(-D0) and the extreme squared singular
values of W1 and W2, as relative differences between the two computations.

BLAS threads: 1 by default, set before numpy is imported (``--threads N`` to change;
see ``bench/_threads.py``).
"""

from __future__ import annotations

import os
import sys

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _results import report

BLAS_THREADS = pin_blas_threads()

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from convtool.numeric.constants import compute_constants  # noqa: E402
from convtool.numeric.generators import fig1  # noqa: E402
from convtool.numeric.losses import SquaredLoss  # noqa: E402

N = 10
WIDTHS = (500, 1000, 4000)


def repeat(fns: dict, reps: dict, budget_s: dict) -> dict:
    """Wall times ``{key: [t, ...]}`` of ``fns[key]()``, interleaved: round i runs each callable
    still due (fewer than ``reps[key]`` runs and less than ``budget_s[key]`` spent; one at least)."""
    times = {k: [] for k in fns}
    for i in range(max(reps.values())):
        for key, fn in fns.items():
            if i >= reps[key] or (i > 0 and sum(times[key]) > budget_s[key]):
                continue
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return times


def dense_reference(W1: np.ndarray, W2: np.ndarray):
    """The naive way: h x h imbalance, its full spectrum, full SVDs of W1 and W2."""
    D0 = W1.T @ W1 - W2.T @ W2
    ev = np.linalg.eigvalsh(D0)  # ascending, h values
    _, s1, _ = np.linalg.svd(W1)
    _, s2, _ = np.linalg.svd(W2)
    return ev, s1, s2


def compare(res, ev, s1, s2, n: int, m: int) -> dict:
    """Relative differences, convtool vs dense, of the spectral primitives."""
    v = res.values
    pairs = {
        "lambda_max(D0)": (v["lambda_max_D0"], max(ev[-1], 0.0)),
        "lambda_n(D0)": (v["lambda_n_D0"], ev[-n]),
        "lambda_max(-D0)": (v["lambda_max_negD0"], max(-ev[0], 0.0)),
        "lambda_m(-D0)": (v["lambda_m_negD0"], -ev[m - 1]),
        "s1_max^2": (v["s1_max_sq"], s1[0] ** 2),
        "s1_min^2": (v["s1_min_sq"], s1[n - 1] ** 2),
        "s2_max^2": (v["s2_max_sq"], s2[0] ** 2),
        "s2_min^2": (v["s2_min_sq"], s2[m - 1] ** 2),
    }
    return {k: abs(a - b) / max(abs(b), np.finfo(float).tiny) for k, (a, b) in pairs.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args(argv)
    reps_cc = 10 if args.quick else 30
    reps_dense = {500: 3, 1000: 2, 4000: 1} if args.quick else {500: 7, 1000: 5, 4000: 2}
    # at h = 4000 one dense run takes 10-30 s here; a second one only if the first was quick
    budget_dense = {500: 10.0, 1000: 10.0, 4000: 20.0}

    print(f"bench_constants: compute_constants vs dense h x h reference (issue 2); n = m = {N}, fig1 seed 0")
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), "
          f"BLAS threads {BLAS_THREADS}")

    t_start = time.perf_counter()
    # warm-up: one-time sympy lambdify compilation and LAPACK start-up, excluded from every timing
    d = fig1(n=N, h=WIDTHS[0], seed=0)
    t0 = time.perf_counter()
    compute_constants(SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"])
    print(f"(warm-up call, excluded: {time.perf_counter() - t0:.2f} s)")
    dense_reference(d["W1"][:, :50], d["W2"][:, :50])

    rows = []
    worst = {}
    for h in WIDTHS:
        d = fig1(n=N, h=h, seed=0)
        loss = SquaredLoss(d["X"], d["Y"])
        W1, W2 = d["W1"], d["W2"]
        res = compute_constants(loss, W1, W2)
        out = {}
        fns = {"cc": lambda: compute_constants(loss, W1, W2),
               "dense": lambda: out.update(r=dense_reference(W1, W2))}
        tt = repeat(fns, {"cc": reps_cc, "dense": reps_dense[h]}, {"cc": 10.0, "dense": budget_dense[h]})
        t_cc, t_dn = tt["cc"], tt["dense"]
        diffs = compare(res, *out["r"], n=loss.n, m=loss.m)
        for k, v in diffs.items():
            worst[k] = max(worst.get(k, 0.0), v)
        rows.append((h, min(t_cc), statistics.median(t_cc), len(t_cc), min(t_dn), statistics.median(t_dn),
                     len(t_dn), max(diffs["lambda_max(D0)"], diffs["lambda_n(D0)"]), max(diffs.values())))
        print(f"  h = {h}: done", flush=True)

    print()
    print(f"{'h':>6} {'convtool [ms]':>14} {'dense [ms]':>12} {'dense/convtool':>15} "
          f"{'reps c/d':>9} {'relerr lam_max,lam_n':>21} {'relerr all':>11}")
    for h, c_min, c_med, c_n, d_min, d_med, d_n, err_l, err_all in rows:
        print(f"{h:>6} {1e3 * c_min:>14.2f} {1e3 * d_min:>12.1f} {d_min / c_min:>15.1f} "
              f"{f'{c_n}/{d_n}':>9} {err_l:>21.1e} {err_all:>11.1e}")
    print("(times: minimum over repetitions; medians: "
          + ", ".join(f"h={h}: {1e3 * c_med:.2f} / {1e3 * d_med:.1f} ms" for h, _, c_med, _, _, d_med, *_ in rows)
          + ")")
    print()
    print("max relative difference convtool vs dense over all h:")
    for k, v in worst.items():
        print(f"  {k:<16} {v:.2e}")
    ok = worst["lambda_max(D0)"] < 1e-8 and worst["lambda_n(D0)"] < 1e-8
    print(f"lambda_max(D0), lambda_n(D0) agree to 1e-8: {'yes' if ok else 'NO'}")
    growth_c = rows[-1][1] / rows[0][1]
    growth_d = rows[-1][4] / rows[0][4]
    print(f"growth h={WIDTHS[0]} -> h={WIDTHS[-1]} (x{WIDTHS[-1] // WIDTHS[0]} width): "
          f"convtool x{growth_c:.1f}, dense x{growth_d:.0f}")
    report("bench_constants", f"dense / convtool at h = {WIDTHS[-1]}", rows[-1][4] / rows[-1][1])
    report("bench_constants", f"convtool growth h = {WIDTHS[0]} -> {WIDTHS[-1]}", growth_c)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
