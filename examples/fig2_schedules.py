"""Fig. 2: the adaptive schedule against Xu et al. (2023), backtracking and the rest.

Problem: the Fig. 1 setting (Section 4.2). Algorithm: GD with each schedule of
:mod:`convtool.numeric.schedules` from the same initializations.

Theoretical guarantee: Theorem 3.1 certifies every step of every schedule with
``0 < eta_t K_t < 2``; Theorem 3.2's rate covers constant / adaptive / adaptive-bar.
The paper reports that the adaptive schedule converges faster than xu2023 and
backtracking; the returned steps-to-tolerance make that comparison.

Reference: local-PL paper, Section 4.2, Fig. 2, Algorithm 1.

Example
-------
>>> steps = wc_fig2(h=100, seeds=2, steps=500, verbose=-1)
>>> steps["adaptive"] <= steps["backtracking"]
True
"""

from convtool.numeric.experiments import compare_schedules, default_batch

SCHEDULES = ["adaptive", "local", "xu2023", "backtracking", "constant", "adgd"]


def wc_fig2(h=500, sigma=1.0, seeds=5, steps=2000, verbose=0):
    """Return {schedule: median steps to L(t)/L(0) <= 1e-14} (None if not reached)."""
    cmp = compare_schedules(default_batch(seeds=seeds, h=h, sigma=sigma), SCHEDULES, steps=steps,
                            d=1.01, reference=False)
    out = {row.name: row.steps_to_tol for row in cmp.rows}
    if verbose >= 0:
        for row in cmp.rows:
            print(f"{row.name:>14}: steps to 1e-14 = {row.steps_to_tol}, "
                  f"Theorem 3.1 violations = {row.violations['thm31']}")
    return out


if __name__ == "__main__":
    wc_fig2()
