"""Benchmark: the deep linear model's GD step against a bare numpy step, and the cost of P(t)'s spectrum.

Run by hand from the repository root::

    python bench/bench_deep_linear.py            # about 30-60 s on 2 cores
    python bench/bench_deep_linear.py --quick    # fewer repetitions

Instance: Zhao & Xu's Appendix G size, N = 3, hidden widths n_1 = n_2 = 2000, d = n_0 = 128,
k = n_N = 10, M = 1000 samples: ``np.random.default_rng(0)`` draws X_paper (128 x 1000), then the
generating W (10 x 128), then the noise (10 x 1000); convtool's row-sample ``X = X_paper^T``,
``Y = (W X_paper + noise)^T``. Gaussian init (seed 0), eta = n_N / (N beta) (Theorem 1's step).

Measured, interleaved round-robin over the repetitions (a slow spell of the shared machine hits
every configuration alike), after one warm-up call of each:

(a) **model / bare**: one ``DeepLinear`` step as the engine does it,
    ``W = product(state); Gl = loss.grad(W); g = param_grads(state, Gl); state = step(state, g, eta)``
    with ``SquaredLoss``, against ``bare_layerwise_step`` (plain numpy, same math, nothing recorded).
    Both take ``O(k sum_j n_j n_{j-1})`` flops plus the update; the ratio is the overhead of the
    model's interface (batch axis, loss object, gradient tuple). The script checks that both end at
    the same weights after the timed steps.
(b) **P_spectrum / step**: one ``P_spectrum`` call (here ``n_N r = 1280 > dense_max = 500``, so the
    Lanczos path; its cost is dominated by the r x r Grams ``U_X^T V_{i-1:1}^T V_{i-1:1} U_X``, i.e.
    ``O(r sum_j n_j n_{j-1})``) relative to one model step; and the dense path (forced with
    ``dense_max = 2000``) for comparison, with the agreement of the two.

Printed: the minimum and the median over repetitions of each time, and the ratios of the minima
(also of the medians). Ratios are the result; absolute times move with the machine's load. Exit
status 1 only if a cross-check fails (weights or spectra disagree), never for a timing.

BLAS threads: 1 by default, set before numpy is imported (``--threads N``; see ``bench/_threads.py``).
"""

from __future__ import annotations

import sys
import time

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _results import report

BLAS_THREADS = pin_blas_threads()

import numpy as np  # noqa: E402

from convtool.numeric.deep_linear import (DeepLinear, P_spectrum, bare_layerwise_step, init_layers,  # noqa: E402
                                          projector_basis)
from convtool.numeric.losses import SquaredLoss  # noqa: E402


def app_g_data(seed: int = 0, d: int = 128, k: int = 10, M: int = 1000):
    rng = np.random.default_rng(seed)
    Xp = rng.standard_normal((d, M))
    Wg = rng.standard_normal((k, d))
    noise = rng.standard_normal((k, M))
    return Xp.T.copy(), (Wg @ Xp + noise).T.copy()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    reps = 5 if quick else 15
    t_total = time.perf_counter()
    N, n, d, k, M = 3, 2000, 128, 10, 1000
    widths = (d,) + (n,) * (N - 1) + (k,)
    print("bench_deep_linear: DeepLinear step vs bare numpy step, and P_spectrum cost")
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, BLAS threads {BLAS_THREADS}")
    print(f"instance: App. G size, N = {N}, widths {widths}, M = {M}, gaussian init seed 0, {reps} repetitions")
    X, Y = app_g_data(0, d, k, M)
    loss = SquaredLoss(X, Y)
    eta = k / (N * loss.K)
    U, r = projector_basis(X)
    W0 = init_layers(widths, "gaussian", seed=0)
    mdl = DeepLinear(W0)
    state = mdl.init_state()
    bare = [V[0].copy() for V in state]
    eta_b = np.array([eta])

    def model_step():
        nonlocal state
        W = mdl.product(state)
        Gl = loss.grad(W)
        g = mdl.param_grads(state, Gl)
        state = mdl.step(state, g, eta_b)

    def bare_step():
        nonlocal bare
        bare = bare_layerwise_step(bare, X, Y, eta)

    def spec_lanczos():
        return P_spectrum(state, U)

    def spec_dense():
        return P_spectrum(state, U, dense_max=2000)

    funcs = {"model step": model_step, "bare step": bare_step, "P_spectrum lanczos": spec_lanczos,
             "P_spectrum dense": spec_dense}
    times = {name: [] for name in funcs}
    for f in funcs.values():  # warm-up (also advances both runs by one step, in step)
        f()
    for _ in range(reps):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    ok = True
    diff = max(float(np.max(np.abs(a[0] - b)) / np.max(np.abs(b))) for a, b in zip(state, bare))
    lo_l, hi_l, m_l = spec_lanczos()
    lo_d, hi_d, m_d = spec_dense()
    spec_diff = max(abs(lo_l[0] - lo_d[0]) / abs(lo_d[0]), abs(hi_l[0] - hi_d[0]) / abs(hi_d[0]))
    mn = {k_: min(v) for k_, v in times.items()}
    md = {k_: float(np.median(v)) for k_, v in times.items()}
    print()
    print(f"  {'':22s} {'min [ms]':>10s} {'median [ms]':>12s} {'ratio (min)':>12s} {'ratio (median)':>15s}")
    base = {"model step": "bare step", "bare step": "bare step", "P_spectrum lanczos": "model step",
            "P_spectrum dense": "model step"}
    for name in funcs:
        b = base[name]
        print(f"  {name:22s} {1e3 * mn[name]:10.1f} {1e3 * md[name]:12.1f} {mn[name] / mn[b]:11.2f}x "
              f"{md[name] / md[b]:14.2f}x   (vs {b})")
    print()
    print(f"(a) model step / bare step: {mn['model step'] / mn['bare step']:.2f}x (min), "
          f"{md['model step'] / md['bare step']:.2f}x (median)")
    print(f"(b) P_spectrum ({m_l}, n_N r = {k * r}) / model step: {mn['P_spectrum lanczos'] / mn['model step']:.2f}x "
          f"(min), {md['P_spectrum lanczos'] / md['model step']:.2f}x (median); "
          f"dense path: {mn['P_spectrum dense'] / mn['model step']:.2f}x")
    print(f"    p_lo = {lo_l[0]:.6f}, p_hi = {hi_l[0]:.6f} after {reps + 1} steps")
    print(f"cross-checks: model vs bare weights after {reps + 1} steps, max relative difference {diff:.1e}; "
          f"lanczos vs dense spectrum {spec_diff:.1e}")
    if diff > 1e-10:
        print("FAIL: model and bare steps disagree")
        ok = False
    if spec_diff > 1e-8:
        print("FAIL: Lanczos and dense P spectra disagree")
        ok = False
    # (c) a recorded step of the engine with the zhao-xu theory (convex companion, distances, tau_hat, drift;
    # P(t) spectrum and saddle margin only at t = 0), as the marginal cost of 10 more steps
    from convtool.numeric.engine import run
    from convtool.numeric.theories.zhao_xu import ZhaoXu

    def engine(T):
        th = ZhaoXu(spectrum_every=10 ** 9, saddle_every=10 ** 9)
        t0 = time.perf_counter()
        run(DeepLinear(W0), loss, "constant", theories=[th], steps=T, eta0=eta, tol=1e-300)
        return time.perf_counter() - t0

    short, long_ = [], []
    for _ in range(max(3, reps // 3)):
        short.append(engine(2))
        long_.append(engine(12))
    per_step = (min(long_) - min(short)) / 10
    print(f"(c) recorded engine step (zhao-xu theory, no P(t) spectrum) / bare step: "
          f"{per_step / mn['bare step']:.2f}x (min; target <= 2x)")
    report("bench_deep_linear", "recorded engine step / bare step", per_step / mn["bare step"], target=2.0)
    print(f"\n(total {time.perf_counter() - t_total:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
