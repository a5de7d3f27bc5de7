"""Du, Hu & Lee, Theorem 3.1 as a sweep: the ``duhulee`` schedule on matrix factorization keeps the factors balanced.

``1/2 ||U V^T - M*||_F^2`` with a rank-3 target (``generate du-hu-lee-mf``: 10 x 8, ``||M*||_F = 1``) and a small
init of width r = 3, GD with the printed step ``eta_t = sqrt(eps/r) / (100 (t+1) ||M*||_F^(3/2))`` for several
eps. Appendix B.1's preconditions hold on the init; Lemma 3.1 (i) says ``||U_t^T U_t - V_t^T V_t||_F <= eps`` at
every step. Observed: max_t ||D_t||_F; predicted: eps and eq. (13)'s data-dependent drift bound. Claim: Lemma
3.1's three claims hold on every step of every run; the verdict also gives tau_T = sum eta_t, which is what
the printed step buys (convergence needs about exp(tau/eta_0) steps, so expect little progress).
``python examples/sweep_du_hu_lee_mf.py [--quick]``.
"""

from convtool.sweeps.figure import Figure, main

SPEC = """
name = "Du, Hu & Lee Thm. 3.1"
[data]
generate = "du-hu-lee-mf"
[options]
loss = "factorization"
schedule = "duhulee"
steps = 5000
tol = 1e-300
[grid]
eps = [0.4, 0.2, 0.1, 0.05]
"data.seed" = {range = [0, 5]}
[quick.options]
steps = 300
[quick.grid]
eps = [0.2, 0.05]
"data.seed" = [0]
[plot]
x = "eps"
y = "factorization.D_fro_max"
predicted = "factorization.eq13_data_bound"
logx = true
logy = true
"""

CLAIMS = ("dhl_L31_i", "dhl_L31_ii", "dhl_L31_iii")


def claim(groups, rows):
    ok = [r for r in rows if r["run_status"] == "ok"]
    bad = [r for r in ok for c in CLAIMS
           if not str(r.get(f"factorization.claims.{c}.held", "")).startswith("yes")]
    below = all(r["factorization.D_fro_max"] <= r["eps"] for r in ok)
    tau = sorted({round(r["factorization.tau_T"], 6) for r in ok})
    held = bool(ok) and not bad and below
    return held, (f"{'held' if held else 'did not hold'}: Lemma 3.1 (i)-(iii) on every step of "
                  f"{len(ok) - len({id(r) for r in bad})} of {len(ok)} runs, max ||D_t||_F <= eps in all: {below}; "
                  f"tau_T = sum eta_t in [{tau[0]:.3g}, {tau[-1]:.3g}]")


FIGURE = Figure(name="du_hu_lee_mf", title="Du, Hu & Lee Thm. 3.1: balancedness under the duhulee schedule",
                spec=SPEC, x="eps", observed="factorization.D_fro_max", predicted="factorization.eq13_data_bound",
                extra=("factorization.tau_T",), claim=claim,
                reference="S. S. Du, W. Hu, J. D. Lee, NeurIPS 2018 (arXiv:1806.00900), Theorem 3.1, Lemma 3.1, eq. (13).")

if __name__ == "__main__":
    main(FIGURE)
