"""Fig. 3: wider networks with N(0, h^(-2p)) init have a better-conditioned T_0.

Problem: Appendix G.1: X orthogonal 10 x 10, ``Y = X Theta + N(0, 0.1)``, init N(0, h^(-2p)).

Theoretical guarantee (Theorem 3.3, eq. 21, with Lemma E.3):
``sigma_min^2(T_0) / sigma_max^2(T_0) >= alpha1/alpha2 >= 1 - Omega(h^(2p-1))``.

Reference: local-PL paper, Theorem 3.3 and Fig. 3.

Example
-------
>>> observed, predicted = wc_fig3(p=0.375, h=500, seeds=3, verbose=-1)
>>> observed >= predicted
True
"""

import numpy as np

from convtool.numeric.constants import compute_constants
from convtool.numeric.data import build_instance
from convtool.numeric.generators import fig3


def wc_fig3(p=0.375, h=1000, seeds=10, verbose=0):
    """Return (mean 1/kappa(T_0)^2 = sigma_min^2/sigma_max^2, mean alpha1/alpha2) over seeds."""
    obs, pred = [], []
    for s in range(seeds):
        inst = build_instance(fig3(p=p, h=h, seed=s))
        res = compute_constants(inst.loss, inst.W1, inst.W2)
        obs.append(res.sigma_min_T0_sq / res.sigma_max_T0_sq)
        pred.append(res.alpha_ratio)
    observed, predicted = float(np.mean(obs)), float(np.mean(pred))
    if verbose >= 0:
        print(f"convtool observed        : sigma_min^2(T0)/sigma_max^2(T0) = {observed:.6f}")
        print(f"Theoretical guarantee    : >= alpha1/alpha2 = {predicted:.6f}  (Lemma E.3, Theorem 3.3)")
    return observed, predicted


if __name__ == "__main__":
    for p in (0.275, 0.375, 0.475):
        for h in (500, 1000, 2000):
            print(f"p = {p}, h = {h}")
            wc_fig3(p=p, h=h)
