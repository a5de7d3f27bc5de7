"""Benchmark: one recorded linear-ResNet step of the engine against a bare numpy GD step (issue 8).

Run by hand from the repository root::

    python bench/bench_resnet.py            # about 1-2 minutes on 2 cores
    python bench/bench_resnet.py --quick    # fewer repetitions

Instance: m = 200, L = 100, d = k = 10, n = 1000: Zou, Long & Gu's Section 5 data (``generate zou-long-gu``,
seed 0), Gaussian transforms A ~ N(0, 1/m), B ~ N(0, 1/k) (seed 0), zero hidden init, Theorem 3.1's step.

Measured, interleaved round-robin over the repetitions, after a warm-up:

(a) **bare**: plain numpy GD on the ResNet with ``Sxx = X^T X`` and ``Syx = Y^T X`` precomputed (the step never
    touches the n samples): forward ``F_l = F_{l-1} + W_l F_{l-1}``, ``E = U Sxx - Syx``, the loss from the
    Grams, backward ``S_{l-1} = S_l + S_l W_l``, ``grad_l = S_l^T E F_{l-1}^T``, ``W -= eta grad``;
(b) **model**: the model's own step as the engine calls it (``product``, ``SquaredLoss.grad`` and excess,
    ``param_grads``, ``grad_sq``, ``step``), nothing recorded;
(c) **recorded**: the engine's marginal cost per step with the ``zou-long-gu`` theory attached (per-layer norms
    and gradient norms, round-off, Lemma A.1 ratios, Lemma A.2 terms; Theorem 3.1's curve after the loop), as
    ``(run(T2) - run(T1)) / (T2 - T1)``.

The ratios (c)/(a) (target <= 2x) and (b)/(a) are the result; the script writes them to bench/README.md (section
"bench_resnet.py"). Cross-check: (a) and (b) end at the same weights (exit 1 otherwise, never for a timing).
BLAS threads: 1 by default (``--threads N``; bench/_threads.py).
"""

from __future__ import annotations

import datetime
import os
import sys
import time

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _results import report

BLAS_THREADS = pin_blas_threads()

import numpy as np  # noqa: E402

from convtool.numeric.generators import zou_long_gu  # noqa: E402
from convtool.numeric.losses import SquaredLoss  # noqa: E402
from convtool.numeric.resnet import LinearResNet, make_transforms  # noqa: E402


def bare_step(W, A, B, Sxx, Syx, Y2, eta):
    """Plain numpy GD step of the ResNet (Gram form); returns the new W (L, m, m) and the loss before it."""
    L = W.shape[0]
    F = [A]
    for l in range(L):
        F.append(F[-1] + W[l] @ F[-1])
    U = B @ F[-1]
    E = U @ Sxx - Syx
    loss = 0.5 * (np.sum(U * (U @ Sxx)) - 2 * np.sum(U * Syx) + Y2)
    S = B
    G = np.empty_like(W)
    for l in range(L - 1, -1, -1):
        G[l] = S.T @ (E @ F[l].T)
        S = S + S @ W[l]
    return W - eta * G, loss


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    reps = 5 if quick else 15
    t_total = time.perf_counter()
    m, L, d, k, n = 200, 100, 10, 10, 1000
    data = zou_long_gu(d=d, M=n)
    X, Y = data["X"], data["Y"]
    A, B = make_transforms("gaussian", d=d, k=k, m=m, alpha=1 / np.sqrt(m), beta=1 / np.sqrt(k), seed=0)
    from convtool.numeric.resnet_constants import compute_resnet_constants

    eta = compute_resnet_constants(X, Y, A, B, depth=L).quantities["eta_thm31"]
    print("bench_resnet: recorded ResNet step vs bare numpy GD step")
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, BLAS threads {BLAS_THREADS}")
    print(f"instance: m = {m}, L = {L}, d = k = {d}, n = {n}, Gaussian A, B (1/m, 1/k), eta_thm31 = {eta:.4g}, "
          f"{reps} repetitions")
    Sxx, Syx, Y2 = X.T @ X, Y.T @ X, float(np.sum(Y * Y))
    loss = SquaredLoss(X, Y)
    mdl = LinearResNet(A, B, depth=L)
    state = mdl.init_state()
    Wb = np.zeros((L, m, m))
    e = np.array([eta])

    def a():
        nonlocal Wb
        Wb, _ = bare_step(Wb, A, B, Sxx, Syx, Y2, eta)

    def b():
        nonlocal state
        P = mdl.product(state)
        loss.excess(P)
        g = mdl.param_grads(state, loss.grad(P))
        mdl.grad_sq(state, g)
        state = mdl.step(state, g, e)

    from convtool.numeric.engine import run
    from convtool.numeric.theories.zou_long_gu import ZouLongGu

    def engine(T):
        t0 = time.perf_counter()
        run(LinearResNet(A, B, depth=L), loss, "constant", theories=[ZouLongGu(horizon=T)], steps=T, eta0=eta,
            tol=1e-300)
        return time.perf_counter() - t0

    a(), b(), engine(2)  # warm-up (and sympy's one-time compilation)
    Wb = np.zeros((L, m, m))
    state = mdl.init_state()
    times = {"bare": [], "model": []}
    for _ in range(reps):
        for name, f in (("bare", a), ("model", b)):
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    diff = float(np.max(np.abs(Wb - state[0][0])) / max(np.max(np.abs(Wb)), 1e-300))
    short, long_ = [], []
    for _ in range(max(3, reps // 3)):
        short.append(engine(2))
        long_.append(engine(12))
    rec = (min(long_) - min(short)) / 10
    mn = {k_: min(v) for k_, v in times.items()}
    md = {k_: float(np.median(v)) for k_, v in times.items()}
    lines = [f"bare step: min {mn['bare'] * 1e3:.2f} ms, median {md['bare'] * 1e3:.2f} ms",
             f"model step: min {mn['model'] * 1e3:.2f} ms, median {md['model'] * 1e3:.2f} ms; "
             f"ratio {mn['model'] / mn['bare']:.2f}x",
             f"recorded engine step (zou-long-gu theory): {rec * 1e3:.2f} ms; ratio {rec / mn['bare']:.2f}x "
             f"(target <= 2x)",
             f"cross-check: bare and model weights agree to {diff:.1e} (relative)"]
    report("bench_resnet", "model step / bare numpy GD step (m = 200, L = 100)", mn["model"] / mn["bare"])
    report("bench_resnet", "recorded ResNet step / bare numpy GD step", rec / mn["bare"], target=2.0)
    print("\n".join(lines))
    ok = diff < 1e-10
    if not ok:
        print("FAIL: bare and model steps disagree")
    _write_readme(lines, reps)
    print(f"\n(total {time.perf_counter() - t_total:.0f} s)")
    return 0 if ok else 1


def _write_readme(lines, reps):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    head = "## bench_resnet.py (issue 8)"
    body = (f"{head}\n\nm = 200, L = 100, d = k = 10, n = 1000 (Section 5 data), Gaussian A, B, one BLAS thread, "
            f"{reps} repetitions, measured {datetime.date.today().isoformat()} (written by the script):\n\n"
            + "\n".join(f"- {x}" for x in lines) + "\n")
    text = open(path).read() if os.path.exists(path) else ""
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + body + (text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    with open(path, "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    sys.exit(main())
