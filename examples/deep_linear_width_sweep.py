"""Theorem 2 of Zhao & Xu as a width sweep: the DLN trajectory approaches the convex one as the width grows.

Paper: H. Zhao and J. Xu, "Convergence Analysis and Trajectory Comparison of Gradient Descent for
Overparameterized Deep Linear Networks", Transactions on Machine Learning Research (07/2024),
OpenReview id jG7ndW7UHp (shared/papers/deep-linear-trajectory-zhao-xu.txt; reading notes
shared/notes/deep-linear-trajectory.md, sections 3.4 and 4).

Problem: Appendix G: ``Y = W* X + eps`` with X, W*, eps i.i.d. N(0, 1), loss ``1/2 ||a_N W_{N:1} X - Y||_F^2``,
N = 3 layers with equal hidden widths n, Gaussian and one-peak orthogonal initializations. The default is
a reduced instance (d = 32 inputs, M = 200 samples, k = 5 outputs, widths 40 ... 640) that runs in well
under a minute on two cores; ``--full`` runs the printed sizes (128 x 1000, 10 outputs, widths 128 ... 2000).

Algorithm: GD (7) on the DLN with Theorem 1's step ``eta = n_N / (N beta)`` for 25 steps, next to convex
GD (2) with ``eta_* = N eta / n_N = 1/beta`` from ``W(0) = a_N W_{N:1}(0)`` (the engine's ``zhao-xu``
theory runs the convex iterate alongside).

Theoretical guarantee: Theorem 2 (12a) in the un-rescaled form of its proof (notes 3.4),
``||V(t) - W(t)||_X^2 <= D_R(t) ||V(0) - W*||_X^2`` with
``D_R = min{14 tau / (1 - q), 2 [(q + 7 tau)^t - q^t]}``, meaningful only when ``q + 7 tau < 1``; tau is
Lemma 4's residual ratio (here its largest observed value ``max tau_hat``) and q eq. (10) at eta_*. The
paper gives no rate in n; its Appendix G claims only that the trajectories become "increasingly
similar" as the width grows. This script prints, per (init, width), the observed
``max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2`` next to ``max_t D_R(t)``, the fitted log-log exponent of
the distance in n, the final loss ratios of both runs and the engine's check violations, then a
conclusion computed from those numbers.

Example
-------
>>> rows = main(["--widths", "40,80", "--seeds", "1", "--quiet"])
>>> [(r["init"], r["width"]) for r in rows]
[('gaussian', 40), ('gaussian', 80), ('orthogonal', 40), ('orthogonal', 80)]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from convtool.analysis.evaluate import compiled
from convtool.numeric.deep_linear import DeepLinear, init_layers
from convtool.numeric.engine import run
from convtool.numeric.generators import zhao_xu
from convtool.numeric.losses import SquaredLoss
from convtool.numeric.theories.zhao_xu import ZhaoXu

DEPTH = 3
STEPS = 25
REDUCED = {"d": 32, "M": 200, "k": 5, "widths": (40, 80, 160, 320, 640)}
FULL = {"d": 128, "M": 1000, "k": 10, "widths": (128, 200, 500, 1000, 2000)}
INITS = ("gaussian", "orthogonal")
#: the engine checks summed in the rows (thm1 needs Theorem 1's width condition, never met here)
CHECKS = ("cvx_q", "lemma5", "thm2", "thm1")


def _fit_slope(x, y):
    """Least-squares slope of log y against log x over the finite positive points (None under 2 points)."""
    pts = [(math.log(a), math.log(b)) for a, b in zip(x, y) if b is not None and np.isfinite(b) and b > 0]
    if len(pts) < 2:
        return None
    xs, ys = np.array(pts).T
    return float(np.polyfit(xs, ys, 1)[0])


def sweep_point(X, Y, init, width, seeds, steps, depth=DEPTH):
    """Run GD on one (init, width) with ``seeds`` initial draws (seeds 0..seeds-1); return its row."""
    d, k = X.shape[1], Y.shape[1]
    loss = SquaredLoss(X, Y)
    beta = float(np.linalg.norm(X, 2) ** 2)            # ||X||^2 = lambda_max(X X^T), the loss's smoothness
    eta = k / (depth * beta)                           # Theorem 1 / App. G (e): eta = n_N / (N ||X||^2)
    model = DeepLinear(init_layers([d] + [width] * (depth - 1) + [k], init, seed=0, R=seeds))
    theory = ZhaoXu(spectrum_every=steps + 1, saddle_every=steps + 1)   # spectra/saddles only at t = 0
    res = run(model, loss, "constant", theories=[theory], steps=steps, eta0=eta)
    if not math.isclose(theory.beta, beta, rel_tol=1e-9):
        raise RuntimeError(f"beta mismatch: theory {theory.beta} vs ||X||^2 {beta}")
    a = res.arrays
    diverged = sum(s == "diverged" for s in res.status)
    dist0 = a["dln_X_sq"][:, 0]                         # ||V(0) - W*||_X^2 per seed
    ratio = np.nanmax(a["dist_X_sq"], axis=1) / dist0   # max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2
    tau = float(np.nanmax(a["tau_hat"]))
    q = float(np.nanmax(a["q"]))
    rate = q + 7 * tau
    bound = None
    if rate < 1:                                        # D_R(t) at tau = max tau_hat, maximized over t
        fD = compiled("D_R", paper="zhao-xu")
        t = np.arange(1, steps + 1, dtype=float)
        args = {"q": np.full_like(t, q), "t": t, "tau": np.full_like(t, tau)}
        bound = float(np.max(fD(*[args[n] for n in fD.argnames])))
    ok = [r for r in range(res.R) if res.status[r] != "diverged"]
    T = steps

    def final_ratio(key):
        if not ok:
            return None
        return float(max(a[key][r, T] / a[key][r, 0] for r in ok))

    viol = res.violations()
    return {
        "init": init, "width": int(width), "seeds": int(seeds), "diverged": int(diverged), "eta": eta,
        "beta": beta, "alpha": float(theory.alpha), "q": q, "tau_max": tau, "q_plus_7tau": rate,
        "dist_ratio": float(np.nanmax(ratio)), "dist_ratio_seeds": [float(x) for x in ratio],
        "thm2_bound": bound, "vacuous": bound is None,
        "E_dln_final_ratio": final_ratio("loss"), "E_cvx_final_ratio": final_ratio("E_cvx"),
        "violations": {c: int(viol[c]) for c in CHECKS},
        "applicable": {c: int(viol[f"{c}_steps_applicable"]) for c in CHECKS},
        "wall_time": float(res.wall_time),
    }


def add_slopes(rows):
    """Per init: the local log-log slope of the distance from the previous width and the fit over all
    non-diverged widths (``exponent``), the same for max tau_hat (``tau_exponent``)."""
    for init in dict.fromkeys(r["init"] for r in rows):
        sel = sorted((r for r in rows if r["init"] == init), key=lambda r: r["width"])
        good = [r for r in sel if r["diverged"] == 0]
        exp_d = _fit_slope([r["width"] for r in good], [r["dist_ratio"] for r in good])
        exp_t = _fit_slope([r["width"] for r in good], [r["tau_max"] for r in good])
        prev = None
        for r in sel:
            r["slope"] = (_fit_slope([prev["width"], r["width"]], [prev["dist_ratio"], r["dist_ratio"]])
                          if prev is not None and prev["diverged"] == 0 and r["diverged"] == 0 else None)
            r["exponent"], r["tau_exponent"] = exp_d, exp_t
            prev = r
    return rows


def _g(x, fmt=".3g"):
    return "-" if x is None else format(x, fmt)


def conclusion(rows):
    """One paragraph computed from the rows (no claims that are not read off the numbers)."""
    parts = []
    for init in dict.fromkeys(r["init"] for r in rows):
        sel = sorted((r for r in rows if r["init"] == init), key=lambda r: r["width"])
        good = [r for r in sel if r["diverged"] == 0]
        bad = [r["width"] for r in sel if r["diverged"]]
        s = f"For the {init} init"
        if bad:
            s += f" {sum(r['diverged'] for r in sel)} run(s) diverged, at n in {bad}; over the widths without a " \
                 f"diverged run"
        if not good:
            parts.append(s + " there is nothing left to compare.")
            continue
        lo, hi = good[0], good[-1]
        s += f" the distance ratio went from {lo['dist_ratio']:.3g} at n = {lo['width']} " \
             f"to {hi['dist_ratio']:.3g} at n = {hi['width']}"
        mono = all(b["dist_ratio"] < a["dist_ratio"] for a, b in zip(good, good[1:]))
        if len(good) > 1:
            s += " (decreasing at every step of the sweep)" if mono else " (not monotone in n)"
        e = lo.get("exponent")
        if e is not None:
            s += f", a fitted scaling of n^{e:.2f} (nearest half-integer exponent {round(2 * e) / 2:g})"
            if lo.get("tau_exponent") is not None:
                s += f", with max tau_hat ~ n^{lo['tau_exponent']:.2f}"
        nonvac = [r for r in good if not r["vacuous"]]
        if nonvac:
            tight = max(r["dist_ratio"] / r["thm2_bound"] for r in nonvac)
            held = all(r["dist_ratio"] <= r["thm2_bound"] for r in nonvac)
            s += f"; Theorem 2's bound is non-vacuous (q + 7 tau < 1) at n in {[r['width'] for r in nonvac]}, " \
                 f"where the observed distance is {'below' if held else 'NOT below'} it (largest observed/bound " \
                 f"{tight:.2g})"
        else:
            s += f"; Theorem 2's bound is vacuous at each of these widths (smallest q + 7 tau = " \
                 f"{min(r['q_plus_7tau'] for r in good):.3g} >= 1)"
        if good[-1]["E_dln_final_ratio"] is not None:
            g = good[-1]
            e_dln, e_cvx = g["E_dln_final_ratio"], g["E_cvx_final_ratio"]
            s += f"; at n = {g['width']} the final loss ratio is {e_dln:.3g} for the DLN against " \
                 f"{e_cvx:.3g} for convex GD (DLN/convex {e_dln / e_cvx:.3g})"
        parts.append(s + ".")
    nv = sum(sum(r["violations"].values()) for r in rows)
    na = sum(sum(r["applicable"].values()) for r in rows)
    parts.append(f"The engine's per-step checks (cvx_q, lemma5, thm2; thm1 never applies, its width condition "
                 f"is not met) report {nv} violation(s) in {na} applicable step-checks.")
    return " ".join(parts)


def print_table(rows, out=print):
    out(f"{'init':<10} {'n':>5} {'div':>4} {'obs max|V-W|^2/|V0-W*|^2':>25} {'Thm2 bound (D_R)':>17} "
        f"{'max tau':>8} {'q+7tau':>7} {'slope':>6} {'E_DLN(T)/E(0)':>13} {'E_cvx(T)/E(0)':>13}  "
        f"viol/applic {'/'.join(CHECKS)}")
    for r in rows:
        b = "vacuous" if r["vacuous"] else f"{r['thm2_bound']:.3g}"
        checks = " ".join(f"{r['violations'][c]}/{r['applicable'][c]}" for c in CHECKS)
        out(f"{r['init']:<10} {r['width']:>5} {r['diverged']:>4} {r['dist_ratio']:>25.3g} {b:>17} "
            f"{r['tau_max']:>8.3g} {r['q_plus_7tau']:>7.3g} {_g(r['slope'], '.2f'):>6} "
            f"{_g(r['E_dln_final_ratio']):>13} {_g(r['E_cvx_final_ratio']):>13}  {checks}")
    for init in dict.fromkeys(r["init"] for r in rows):
        r0 = next(r for r in rows if r["init"] == init)
        out(f"fit {init}: distance ~ n^{_g(r0['exponent'], '.2f')}, max tau_hat ~ n^{_g(r0['tau_exponent'], '.2f')}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="App. G sizes: X 1000 x 128, 10 outputs, "
                   "widths 128,200,500,1000,2000 (about 5 minutes on 2 cores)")
    p.add_argument("--widths", help="comma-separated equal hidden widths (default: the reduced or full sweep)")
    p.add_argument("--inits", default=",".join(INITS), help="comma-separated inits (default gaussian,orthogonal)")
    p.add_argument("--seeds", type=int, default=3, help="initial draws per (init, width) (default 3)")
    p.add_argument("--steps", type=int, default=STEPS, help=f"GD steps (default {STEPS}, as App. G)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the App. G data (default 0)")
    p.add_argument("--quiet", action="store_true", help="print nothing; just return the rows")
    args = p.parse_args(argv)
    cfg = dict(FULL if args.full else REDUCED)
    try:
        widths = [int(w) for w in args.widths.split(",")] if args.widths else list(cfg["widths"])
    except ValueError:
        p.error(f"--widths must be comma-separated integers, got {args.widths!r}")
    inits = [s.strip() for s in args.inits.split(",") if s.strip()]
    if any(i not in INITS for i in inits):
        p.error(f"--inits: choose from {', '.join(INITS)}")
    if min(widths) < max(cfg["d"], cfg["k"]):
        p.error(f"widths must be >= max(n_0, n_N) = {max(cfg['d'], cfg['k'])} (the theorems' n_min condition)")
    if args.seeds < 1 or args.steps < 1:
        p.error("--seeds and --steps must be positive")
    out = (lambda *a: None) if args.quiet else print

    data = zhao_xu(d=cfg["d"], M=cfg["M"], k=cfg["k"], seed=args.data_seed)
    X, Y = data["X"], data["Y"]
    t0 = time.perf_counter()
    rows = [sweep_point(X, Y, init, w, args.seeds, args.steps) for init in inits for w in widths]
    add_slopes(rows)
    r0 = rows[0]
    out(f"Zhao & Xu, Theorem 2 width sweep: X {cfg['M']} x {cfg['d']}, k = {cfg['k']}, N = {DEPTH}, "
        f"{args.steps} steps, {args.seeds} seed(s), beta = {r0['beta']:.4g}, alpha = {r0['alpha']:.4g}, "
        f"eta = n_N/(N beta) = {r0['eta']:.4g}, eta_* = 1/beta, q = {r0['q']:.4g}")
    out("observed and bound are maxima over t <= T and over seeds; bound = max_t D_R(t) at tau = max tau_hat; "
        "loss ratios: worst seed")
    if not args.quiet:
        print_table(rows)
    out(f"({time.perf_counter() - t0:.1f} s)")
    out("")
    out(conclusion(rows))
    return rows


if __name__ == "__main__":
    main()
