"""Fig. 4: with width, overparametrized GD approaches the rate of GD on Problem 1.

Problem: Appendix G.2: W1, W2 in R^{5 x h} i.i.d. N(0, 1/h), ``X = U Sigma V`` with
diag(Sigma) uniform on [1.8, 2.3], ``Y = X W1 W2^T + N(0, 0.1)``.

Algorithm: adaptive schedule (eq. 19 with rho) against GD on Problem 1 with eta = 1/K.

Theoretical guarantee: the best local rate tends to ``1 - (mu/K) alpha1/alpha2`` (remark
after Theorem 3.2), which approaches the non-overparametrized ``1 - mu/K`` as alpha1/alpha2 -> 1;
so the observed rate should improve with the width h. (The adaptive schedule reaches the 1/K_t
branch only after its growth cap has grown, so at finite t the observed rate can sit above
that limit: it is a limit, not a per-step bound.)

Reference: local-PL paper, Appendix G.2 and Fig. 4.

Example
-------
>>> narrow, _ = wc_fig4(h=50, steps=300, verbose=-1)
>>> wide, _ = wc_fig4(h=800, steps=300, verbose=-1)
>>> wide < narrow
True
"""

from convtool.numeric.data import build_instance
from convtool.numeric.engine import observed_rate, run_gd, run_reference
from convtool.numeric.generators import fig4


def wc_fig4(h=1000, seed=0, steps=3000, verbose=0):
    """Return (observed adaptive rate, predicted local-rate limit 1 - (mu/K) alpha1/alpha2)."""
    inst = build_instance(fig4(h=h, seed=seed))
    res = run_gd(inst.loss, inst.W1, inst.W2, schedule="adaptive", steps=steps, c=0.5, d=1.01)
    s = res.summary()
    ref = run_reference(inst.loss, inst.W1 @ inst.W2.T, steps)[0]
    ref_rate = observed_rate(ref[ref == ref])
    observed, predicted = s["observed_rate"], s["local_rate_limit"]
    if verbose >= 0:
        print(f"convtool observed rate   : {observed:.6f} (Problem 1 with eta = 1/K: {ref_rate:.6f})")
        print(f"Theoretical local rate   : -> {predicted:.6f}; non-overparametrized 1 - mu/K = "
              f"{s['rate_nonoverparam']:.6f}")
    return observed, predicted


if __name__ == "__main__":
    for h in (100, 1000, 4000):
        print(f"h = {h}")
        wc_fig4(h=h)
