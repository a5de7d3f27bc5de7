"""Smallest width at which GD converges, against n: the empirical exponent next to Song et al.'s 3/2.

Song, Ramezani-Kebrya, Pethick, Eftekhari, Cevher, "Subquadratic Overparameterization for Shallow Neural
Networks", NeurIPS 2021 (arXiv:2111.01875), (21): d1 >~ n^{3/2}/d0, i.e. d0 d1 = Omega~(n^{3/2}) parameters.

For each n (fixed d0), widths d1 on a geometric grid; at each width R seeds of ``generate song-et-al``'s
teacher-student data (unit-norm samples, ||Y||_F = 1), GeLU, LeCun init, full-batch GD with the constant
step 0.9 eta_(13) (eq. 13 without its unknown constant, from seed 0) for T steps. "Converges" means
h(T) <= tol h(0). The smallest d1 where at least 90% of the seeds converge is d1_min(n); a least-squares fit
of log d1_min against log n gives the exponent, printed next to the paper's 3/2 (the d1 exponent of (21) at
fixed d0) and next to the width where the derived GD certificate (9), ratio <= 1/4608, first holds
(extrapolated with the ratio's fitted power of d1 when it holds nowhere on the grid).

Run: ``python examples/shallow_width_exponent.py`` (a few minutes on 2 cores); ``--quick`` for a small grid.

Returns (from :func:`wc_width_exponent`): ``(observed_exponent, predicted_exponent)``.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from convtool.analysis.activations import builtin
from convtool.numeric.generators import song_et_al
from convtool.numeric.shallow import init_layers, run_shallow
from convtool.numeric.shallow_constants import compute_shallow_constants

GD_CERTIFICATE = 1 / 4608


def _converged_fraction(n, d0, d1, seeds, steps, tol, act):
    data = song_et_al(d=d0, M=n, k=1, h=50, seed=n)
    X, Y = data["X"], data["Y"]
    w1, w2 = 1 / math.sqrt(d0), 1 / math.sqrt(d1)
    W, V = init_layers(d0, d1, 1, w1, w2, seed=1, R=seeds)
    c = compute_shallow_constants(X, Y, W[0], V[0], act, omega1=w1, omega2=w2, jacobian=False, gram=False).quantities
    eta = 0.9 * float(c["eta_13"])
    res = run_shallow(X, Y, W, V, act, eta=eta, steps=steps, tol=tol, omega1=w1, omega2=w2)
    frac = float(np.mean([s == "converged" for s in res.status]))
    ratio = c["certificate_ratio"]
    return frac, (float(ratio) if not hasattr(ratio, "reason") else None)


def wc_width_exponent(ns=(20, 40, 80), d0=10, seeds=10, steps=3000, tol=1e-3, grid=None, verbose=1):
    act = builtin("gelu")
    d1_min, cert_at = {}, {}
    for n in ns:
        widths = grid or sorted({int(round(n * f)) for f in (0.25, 0.5, 1, 2, 4, 8)})
        found, ratios = None, []
        for d1 in widths:
            frac, ratio = _converged_fraction(n, d0, d1, seeds, steps, tol, act)
            if ratio is not None:
                ratios.append((d1, ratio))
            if verbose:
                print(f"  n = {n:4d}  d1 = {d1:5d}  converged {frac:4.0%}  certificate ratio "
                      f"{ratio if ratio is None else f'{ratio:.3g}'}")
            if found is None and frac >= 0.9:
                found = d1
        d1_min[n] = found
        held = [d for d, r in ratios if r <= GD_CERTIFICATE]
        if held:
            cert_at[n] = (float(held[0]), "on the grid")
        elif len(ratios) >= 2:  # the widest three points: near d1 = n, mu_Phi -> 0 steepens the curve
            lx = np.log([d for d, _ in ratios[-3:]])
            ly = np.log([r for _, r in ratios[-3:]])
            slope, icpt = np.polyfit(lx, ly, 1)
            cert_at[n] = (float(math.exp((math.log(GD_CERTIFICATE) - icpt) / slope)) if slope < 0 else math.inf,
                          f"extrapolated, ratio ~ d1^{slope:.2f}")
    ok = [n for n in ns if d1_min[n] is not None]
    observed = float(np.polyfit(np.log(ok), np.log([d1_min[n] for n in ok]), 1)[0]) if len(ok) >= 2 else float("nan")
    predicted = 1.5
    if verbose:
        for n in ns:
            c = cert_at.get(n)
            print(f"n = {n:4d}: smallest d1 with >= 90% converged = {d1_min[n]}; certificate (1/4608) first holds "
                  f"at d1 = {c[0]:.3g} ({c[1]})" if c else f"n = {n}: d1_min = {d1_min[n]}")
        print(f"Observed exponent of d1_min in n: {observed:.3f}")
        print(f"Theoretical exponent (Song et al. (21), fixed d0): {predicted}")
    return observed, predicted


if __name__ == "__main__":
    if "--quick" in sys.argv:
        wc_width_exponent(ns=(10, 20), d0=6, seeds=5, steps=800, tol=1e-2)
    else:
        wc_width_exponent()
