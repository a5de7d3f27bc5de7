"""Fig. 1: how tight is Theorem 3.2's guaranteed rate on the paper's own setting?

Problem: squared loss ``1/2 ||Y - X W1 W2^T||^2``, X random orthogonal 10 x 10,
W1(0), W2(0) i.i.d. N(0, 1) of width h, ``Y = X W1(0) W2(0)^T + sigma^2 eps``
(Section 4 of the local-PL paper).

Algorithm: GD with the adaptive step size of eq. (19) (h = rho), c = 0.5, d = 1.01.

Theoretical guarantee: ``L(t) <= L(0) rhobar(eta0, 0)^t`` (Theorem 3.2 / E.1), so the
observed linear rate (a fit of log L(t)) is at most rhobar0.

Reference: local-PL paper, Theorem E.1 and Fig. 1; shared/papers/local-pl-two-layer-linear.txt.

Example
-------
>>> observed, predicted = wc_fig1(h=200, sigma=1.0, seeds=2, steps=300, verbose=-1)
>>> observed <= predicted
True
"""

from convtool.numeric.experiments import default_batch, run_batch


def wc_fig1(h=500, sigma=1.0, seeds=5, steps=2000, schedule="adaptive", verbose=0):
    """Return (observed rate, guaranteed rhobar0), medians over seeds."""
    batch = default_batch(seeds=seeds, h=h, sigma=sigma)
    res = run_batch(batch, schedule=schedule, steps=steps, c=0.5, d=1.01)
    s = res.summary()
    observed, predicted = s["observed_rate"], s["rhobar0"]
    if verbose >= 0:
        print(f"convtool observed rate   : L(t+1)/L(t) ~ {observed:.6f}")
        print(f"Theoretical guarantee    : L(t+1)/L(t) <= {predicted:.6f}  (rhobar0, Theorem 3.2)")
        if verbose >= 1:
            print(f"violations: {s['violations']}, tightness (ratio / rho): {s['tightness']:.3f}")
    return observed, predicted


if __name__ == "__main__":
    for h in (500, 1000, 4000):
        print(f"h = {h}")
        wc_fig1(h=h, verbose=1)
