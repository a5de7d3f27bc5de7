"""Depth sweep of Zou, Long & Gu's Section 5.2: iterations to L* + eps of GD at Theorem 3.1's step by depth,
the linear ResNet against the standard deep linear network (``--no-skip``) beside it.

Zou, Long & Gu, "On the Global Convergence of Training Deep Linear ResNets", ICLR 2020, arXiv:2003.01094.
The paper's claim (Section 5.2, Fig. 1(c), (d)): the ResNet's convergence is about the same for every depth
(rho at eta_thm31 is depth-free: L cancels), while the standard network gets worse as L grows.

Data: Section 5 (d = k = 10, n = 1000, Y = -X + 0.1 E, seed 0). Transforms: modified identity with
alpha = alpha_star (the smallest scale meeting (4.1), so Theorem 3.1 applies at every depth), m = 40; the
baseline starts at Gaussian hidden weights N(0, 1/m) and runs at the ResNet's eta_thm31 of the same depth.

Run::

    python examples/resnet_depth_sweep.py             # depths 2, 5, 10, 20 (about a minute)
    python examples/resnet_depth_sweep.py 2,5,10,20,50

Printed in one fixed format: ``L  eta_thm31  resnet_iters  T_eps(theory)  baseline_iters``. Measured 2026-12-02
(eps = 1e-6 Delta0): the ResNet takes 22 iterations at L = 2, 5, 10, 20 (Theorem 3.1's T_eps = 144 at every
depth); the baseline 77, 265, 2348 and more than 20000 (max_steps) at L = 20.
"""

from __future__ import annotations

import sys


def wc_depth_sweep(depths=(2, 5, 10, 20), m: int = 40, steps: int = 20000):
    """``(observed, predicted)``: per depth the ResNet's iterations to eps (and the baseline's), and T_eps."""
    from convtool.numeric.generators import zou_long_gu
    from convtool.numeric.resnet import make_transforms
    from convtool.numeric.resnet_constants import compute_resnet_constants
    from convtool.numeric.resnet_experiments import compare_depths

    data = zou_long_gu()
    X, Y = data["X"], data["Y"]
    a_star = compute_resnet_constants(X, Y, *make_transforms("modified-identity", d=10, k=10, m=m),
                                      depth=2).quantities["alpha_star"]
    cmp = compare_depths(X, Y, depths, transform="modified-identity", hidden=m, alpha_mod=1.01 * a_star,
                         steps=steps)
    observed = [(r.depth, r.eta, r.resnet_steps, r.baseline_steps if r.baseline_steps is not None
                 else r.baseline_status) for r in cmp.rows]
    predicted = [(r.depth, r.T_eps) for r in cmp.rows]
    return observed, predicted


if __name__ == "__main__":
    depths = tuple(int(x) for x in sys.argv[1].split(",")) if len(sys.argv) > 1 else (2, 5, 10, 20)
    obs, pred = wc_depth_sweep(depths)
    print(f"{'L':>4} {'eta_thm31':>12} {'resnet_iters':>13} {'T_eps(theory)':>14} {'baseline_iters':>15}")
    for (L, eta, it, base), (_, T) in zip(obs, pred):
        print(f"{L:>4} {eta:>12.4e} {str(it):>13} {T:>14.0f} {str(base):>15}")
