"""Do Theorems 3.1 and 3.2 hold on random instances? Count violations over many GD runs.

Problem: squared loss ``1/2 ||Y - X W1 W2^T||^2`` with random X (N x n, N >= n), Y, and
Gaussian initializations of random scale and width h >= n + m (n = m, where Lemma E.3 holds).

Algorithm: GD with the theorem schedules ``constant``, ``adaptive`` and ``adaptive-bar``
(eq. 19), eta0 = eta_max, c = 1/2, d in {1.01, 2}.

Theoretical guarantee: Theorem 3.1, ``L(t+1) <= rho(eta_t, t) L(t)`` whenever
``0 < eta_t K_t < 2``; Theorem 3.2 / E.1, ``L(t+1) <= rhobar(eta_t, t) L(t)`` and
``L(t) <= L(0) rhobar0^t`` at every step satisfying eq. (89). The engine flags each step
(up to the documented rounding band); this script adds the flags up.

Reference: local-PL paper, Theorems 3.1 and E.1.

Example
-------
>>> violations, checked = wc_theorem_stress(instances=4, steps=60, verbose=-1)
>>> violations, checked > 0
(0, True)
"""

import warnings

import numpy as np

from convtool.errors import InputError
from convtool.numeric.engine import run_gd
from convtool.numeric.losses import SquaredLoss


def wc_theorem_stress(instances=150, steps=300, seed=123, verbose=0):
    """Return (violations of Theorems 3.1 and 3.2, steps where they applied) over random runs."""
    rng = np.random.default_rng(seed)
    violations = checked = runs = skipped = 0
    for _ in range(instances):
        n = m = int(rng.integers(1, 5))
        h, N = int(rng.integers(n + m, 40)), n + int(rng.integers(0, 4))
        scale = 10 ** rng.uniform(-1, 0.7)
        loss = SquaredLoss(rng.normal(size=(N, n)), rng.normal(size=(N, m)))
        W1, W2 = scale * rng.normal(size=(n, h)), scale * rng.normal(size=(m, h))
        for schedule in ("constant", "adaptive", "adaptive-bar"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    res = run_gd(loss, W1, W2, schedule=schedule, steps=steps, d=float(rng.choice([1.01, 2.0])))
                except InputError:  # eta_max not applicable here (reported with its reason)
                    skipped += 1
                    continue
            v = res.violations()
            runs += 1
            violations += v["thm31"] + v["thm32"]
            checked += v["thm31_steps_applicable"] + v["thm32_steps_in_range"]
    if verbose >= 0:
        print(f"convtool observed        : {violations} violations in {checked} theorem-covered steps "
              f"({runs} runs, {skipped} without an admissible eta0)")
        print("Theoretical guarantee    : 0 violations (Theorems 3.1 and 3.2)")
    return violations, checked


if __name__ == "__main__":
    wc_theorem_stress()
