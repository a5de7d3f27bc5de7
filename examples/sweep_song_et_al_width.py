"""Song et al. as a sweep: the smallest width d1 at which GD converges in 90% of seeds, against n, and its
fitted exponent next to the paper's 3/2.

Song, Ramezani-Kebrya, Pethick, Eftekhari, Cevher, "Subquadratic Overparameterization for Shallow Neural
Networks", NeurIPS 2021 (arXiv:2111.01875), (21): d1 >~ n^(3/2) / d0 suffices. ``generate song-et-al``'s
teacher-student data (unit-norm samples, ||Y||_F = 1) at each n, GeLU, LeCun init, full-batch GD with the
constant step 0.9 eta_(13) (eq. 13 without its unknown constant, at seed 0's init) for T steps; a run
converges when h(T) <= tol h(0). Observed: the fraction of seeds converged at each (n, d1); the claim fits
log d1_min against log n and says whether the exponent is subquadratic (< 2) and how it compares with 3/2
(the theorem's sufficient width is an upper bound: a smaller exponent is consistent with it).
``python examples/sweep_song_et_al_width.py [--quick]``.
"""

import math
import sys

from convtool.sweeps.figure import Figure, main

FULL = {"ns": (20, 40, 80), "factors": (0.25, 0.5, 1, 2, 4, 8), "seeds": 10, "d0": 10, "steps": 3000, "tol": 1e-3}
QUICK = {"ns": (10, 20), "factors": (0.1, 0.25, 0.5, 1, 2), "seeds": 3, "d0": 6, "steps": 800, "tol": 1e-2}


def _eta(n, d1, d0):
    from convtool.analysis.activations import builtin
    from convtool.numeric.generators import song_et_al
    from convtool.numeric.shallow import init_layers
    from convtool.numeric.shallow_constants import compute_shallow_constants

    data = song_et_al(d=d0, M=n, k=1, h=50, seed=n)
    w1, w2 = 1 / math.sqrt(d0), 1 / math.sqrt(d1)
    W, V = init_layers(d0, d1, 1, w1, w2, seed=0, R=1)
    c = compute_shallow_constants(data["X"], data["Y"], W[0], V[0], builtin("gelu"), omega1=w1, omega2=w2,
                                  jacobian=False, gram=False).quantities
    return 0.9 * float(c["eta_13"])


def build_spec(size) -> str:
    pts = []
    for n in size["ns"]:
        for d1 in sorted({max(2, int(round(n * f))) for f in size["factors"]}):
            eta = _eta(n, d1, size["d0"])
            for s in range(size["seeds"]):
                pts.append(f'[[point]]\n"data.M" = {n}\n"data.seed" = {n}\nwidth = {d1}\neta = {eta!r}\nseed = {s}\n')
    return (f'name = "Song et al. width exponent"\nmodel = "shallow"\n[data]\ngenerate = "song-et-al"\n'
            f'd = {size["d0"]}\nk = 1\nh = 50\n[options]\nactivation = "gelu"\ninit = "lecun"\n'
            f'steps = {size["steps"]}\ntol = {size["tol"]!r}\n' + "".join(pts)
            + '[plot]\nx = "width"\ny = "converged"\nhue = "data.M"\nlogx = true\n')


def derive(row):
    return {"converged": 1.0 if row.get("status") == "converged" else 0.0}


def claim(groups, rows):
    ns = sorted({g["data.M"] for g in groups})
    d1_min = {}
    for n in ns:
        ok = sorted(g["width"] for g in groups if g["data.M"] == n and g["converged"] is not None
                    and _frac(rows, n, g["width"]) >= 0.9)
        d1_min[n] = ok[0] if ok else None
    have = [n for n in ns if d1_min[n] is not None]
    if len(have) < 2:
        return False, f"d1_min found for {len(have)} n only ({d1_min}): no exponent to fit"
    lx = [math.log(n) for n in have]
    ly = [math.log(d1_min[n]) for n in have]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)
    held = slope < 2
    floor = [n for n in have if d1_min[n] == min(g["width"] for g in groups if g["data.M"] == n)]
    note = (f"; at n = {', '.join(map(str, floor))} every width of the grid converged, so d1_min there is the grid's "
            f"smallest width (the true d1_min may be smaller) and the fitted exponent is only bounded by the grid" if floor
            else "")
    return held, (f"{'held' if held else 'did not hold'}: d1_min = "
                  f"{', '.join(f'{d1_min[n]} at n = {n}' for n in ns)}; fitted exponent {slope:.2f} "
                  f"(subquadratic: {held}; the paper's sufficient exponent 3/2){note}")


def _frac(rows, n, d1):
    rs = [r for r in rows if r.get("data.M") == n and r.get("width") == d1 and r.get("run_status") == "ok"]
    return sum(r.get("status") == "converged" for r in rs) / len(rs) if rs else 0.0


def figure(quick: bool = False) -> Figure:
    return Figure(name="song_et_al_width", title="Song et al.: convergence against the width d1, by n",
                  spec=build_spec(QUICK if quick else FULL), x="width", hue="data.M", observed="converged",
                  claim=claim, derive=derive,
                  reference="C. Song et al., NeurIPS 2021 (arXiv:2111.01875), (21) and Section 6.")


if __name__ == "__main__":
    main(figure("--quick" in sys.argv))
