"""Local-PL paper, Fig. 4 as a sweep: overparameterized GD (eq. 19) against non-overparameterized GD.

Appendix G.2: W1, W2 in R^{5 x h} i.i.d. N(0, 1/h), ``X = U Sigma V`` with singular values uniform on
[1.8, 2.3], ``Y = X W1 W2^T + N(0, 0.1)``; the non-overparameterized GD on l(W) with eta = 1/sigma_max^2(X)
has the linear rate ``rate_nonoverparam``. Claim (Appendix G.2): as the width grows, alpha1/alpha2 increases
and the overparameterized rate approaches the non-overparameterized one (the optimal local rate tends to
1 - (mu/K) alpha1/alpha2, Section 3). ``python examples/sweep_localpl_fig4.py [--quick]``.
"""

from convtool.sweeps.figure import Figure, main

SPEC = """
name = "local-PL Fig. 4"
[data]
generate = "fig4"
[options]
steps = 3000
[grid]
"data.h" = [10, 100, 1000, 4000]
"data.seed" = {range = [0, 30]}
[quick.options]
steps = 400
[quick.grid]
"data.h" = [10, 200]
"data.seed" = [0]
[plot]
x = "data.h"
y = "observed_rate"
predicted = "rate_nonoverparam"
logx = true
"""


def claim(groups, rows):
    gs = sorted(groups, key=lambda g: g["data.h"])
    gaps = [None if g["observed_rate"] is None else g["observed_rate"] - g["rate_nonoverparam"] for g in gs]
    ratios = [g["const.alpha_ratio"] for g in gs]
    closing = all(a is not None and b is not None and b <= a for a, b in zip(gaps, gaps[1:]))
    rising = all(b >= a for a, b in zip(ratios, ratios[1:]))
    text = (f"as h grows ({', '.join(str(g['data.h']) for g in gs)}) alpha1/alpha2 "
            f"{'increases' if rising else 'does not always increase'} "
            f"({', '.join(f'{r:.3g}' for r in ratios)}) and the gap between the observed rate and the "
            f"non-overparameterized rate {'shrinks' if closing else 'does not always shrink'} "
            f"({', '.join('n/a' if x is None else f'{x:.3g}' for x in gaps)})")
    return closing and rising, ("held: " if closing and rising else "did not hold: ") + text


FIGURE = Figure(name="localpl_fig4", title="Local-PL Fig. 4: overparameterized vs non-overparameterized GD",
                spec=SPEC, x="data.h", observed="observed_rate", predicted="rate_nonoverparam", claim=claim,
                extra=("const.alpha_ratio",),
                reference="Local-PL paper, Appendix G.2, Fig. 4.")

if __name__ == "__main__":
    main(FIGURE)
