"""Du, Hu & Lee, Section 4 and Theorem 2.1 as a sweep: the layer invariants drift by O(eta) at fixed flow time.

A 3-layer ReLU net ``W3 phi(W2 phi(W1 x))`` on the Section 4 setting (``generate du-hu-lee-fig2``, balanced and
unbalanced initial variances; reduced sizes: the paper's d = 1000, h = 100 is the full size), GD with constant
steps eta at a fixed flow time tau = eta T. The gradient flow conserves ``B_h = ||W_h||_F^2 - ||W_{h+1}||_F^2``
(Corollary 2.1); under GD each step moves it by exactly ``eta^2 (...)`` (checked per step by the theory), so
at fixed tau the drift is O(eta); the table also gives Section 4's layer norm ratios at the start and the end.
Observed: max_t |B_1(t) - B_1(0)|; predicted: the cumulative bound
``sum eta_t^2 ||grad||^2``. Claim: the drift halves (within 25%) when eta halves, and stays below the bound.
``python examples/sweep_du_hu_lee_sec4.py [--quick]``.
"""

import sys

from convtool.sweeps.figure import Figure, main

FULL = {"d": 1000, "M": 1000, "h": 100, "k": 10, "tau": 2.0, "etas": (0.04, 0.02, 0.01, 0.005)}
QUICK = {"d": 40, "M": 80, "h": 20, "k": 3, "tau": 1.0, "etas": (0.04, 0.02)}


def build_spec(size) -> str:
    points = "".join(f'[[point]]\n"data.variant" = "{v}"\neta = {eta!r}\nsteps = {int(round(size["tau"] / eta))}\n'
                     for v in ("balanced", "unbalanced") for eta in size["etas"])
    return (f'name = "Du, Hu & Lee Sec. 4"\nmodel = "mlp"\n[data]\ngenerate = "du-hu-lee-fig2"\nd = {size["d"]}\n'
            f'M = {size["M"]}\nh = {size["h"]}\nk = {size["k"]}\n[options]\ntol = 1e-300\n'
            + points
            + '[plot]\nx = "eta"\ny = "balancedness.rows.B1.max_drift"\nhue = "data.variant"\n'
              'predicted = "balancedness.rows.B1.cum_bound"\nlogx = true\nlogy = true\n')


def claim(groups, rows):
    by: dict = {}
    for g in sorted(groups, key=lambda g: -g["eta"]):
        by.setdefault(g["data.variant"], []).append(g)
    ok, parts = True, []
    for v, gs in by.items():
        d = [g["balancedness.rows.B1.max_drift"] for g in gs]
        b = [g["balancedness.rows.B1.cum_bound"] for g in gs]
        ratios = [a / c for a, c in zip(d, d[1:]) if a is not None and c]
        linear = all(1.5 <= r <= 2.5 for r in ratios) and bool(ratios)
        below = all(x is not None and y is not None and x <= y for x, y in zip(d, b))
        ok &= linear and below
        r0, r1 = gs[-1].get("balancedness.norm_ratios.1.initial"), gs[-1].get("balancedness.norm_ratios.1.final")
        parts.append(f"{v}: drift {', '.join(f'{x:.3g}' for x in d)} (halving ratios "
                     f"{', '.join(f'{r:.2f}' for r in ratios)}; below the bound: {below}); Section 4's layer norm "
                     f"ratio ||W_1||^2/||W_2||^2 {r0:.3g} -> {r1:.3g}")
    return ok, ("held: " if ok else "did not hold: ") + "; ".join(parts)


def figure(quick: bool = False) -> Figure:
    return Figure(name="du_hu_lee_sec4", title="Du, Hu & Lee: invariant drift against the step at fixed flow time",
                  spec=build_spec(QUICK if quick else FULL), x="eta", hue="data.variant",
                  observed="balancedness.rows.B1.max_drift", predicted="balancedness.rows.B1.cum_bound", claim=claim,
                  extra=("balancedness.norm_ratios.1.initial", "balancedness.norm_ratios.1.final",
                         "balancedness.norm_ratios.2.final"),
                  reference="S. S. Du, W. Hu, J. D. Lee, NeurIPS 2018 (arXiv:1806.00900), Corollary 2.1, Section 4.")


if __name__ == "__main__":
    main(figure("--quick" in sys.argv))
