"""The bare numpy GD step of the two-layer model, the reference the recorded steps are timed against
(bench_engine.py at full width, bench_step_floor.py on the width-reduced problem)."""

import time


def bare_gd(XtX, Wstar, W1, W2, eta: float, T: int, stamps: list | None = None):
    """Plain-numpy GD on ``1/2 ||X (W1 W2^T - W*)||^2`` through its Gram ``XtX``, nothing recorded; appends
    ``time.perf_counter()`` to ``stamps`` after each step when given. Returns the final (W1, W2) (copies)."""
    W1 = W1.copy()
    W2 = W2.copy()
    for _ in range(T):
        W = W1 @ W2.T
        G = XtX @ (W - Wstar)
        g1 = G @ W2
        g2 = G.T @ W1
        W1 -= eta * g1
        W2 -= eta * g2
        if stamps is not None:
            stamps.append(time.perf_counter())
    return W1, W2
