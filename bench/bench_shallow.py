"""Benchmark: a recorded shallow-network GD step (Song et al.) against a bare numpy GD step, and the Jacobian cost.

Run by hand from the repository root::

    python bench/bench_shallow.py            # about a minute on 2 cores
    python bench/bench_shallow.py --quick    # fewer steps

Instance (the issue's size): n = 2000 unit-norm samples, d0 = 50, d1 = 4000, d2 = 1, GeLU, LeCun init
(seed 0), labels from ``generate song-et-al``'s teacher, step ``eta = 2e-4`` (GD descends).

Measured, after a warm-up:

(a) **recorded / bare**: one step of ``run_shallow`` (the engine with the song-et-al theory's per-step records:
    h, the envelope, ||Theta_t - Theta_0||, the path length, sigma_max(V_t), chi_obs; no Jacobian after step 0)
    against a bare numpy loop of the same GD (the notes' snippet: forward, residual, two gradients, update).
    Per-step cost = the 10th percentile of the intervals between consecutive steps (the engine's
    ``progress`` callback; the bare loop stamps itself), so the fixed costs (the constants at Theta0, the
    SVD of phi(W0 X), the step-0 Jacobian) are left out. Target: ratio <= 2.
(b) **Jacobian / step**: one ``jacobian_spectrum`` call at this size (n d2 = 2000 > GRAM_MAX: Lanczos on
    J J^T as a LinearOperator) relative to one bare step: what ``--jacobian`` adds per step.

The numbers are written to bench/README.md (section "bench_shallow"). Exit status 1 only if the bare and
recorded runs disagree (final loss), never for a timing.
"""

from __future__ import annotations

import os
import sys
import time

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _readme import replace_block
from _results import report

BLAS_THREADS = pin_blas_threads()

import numpy as np  # noqa: E402

from convtool.analysis.activations import builtin  # noqa: E402
from convtool.numeric.generators import song_et_al  # noqa: E402
from convtool.numeric.shallow import init_layers, jacobian_spectrum, run_shallow  # noqa: E402


def bare_gd(X, Y, W, V, act, eta, steps):
    """The notes' GD snippet (paper layout X^T), with a time stamp per step."""
    Xp, Yp = X.T, Y.T
    stamps = [time.perf_counter()]
    for _ in range(steps):
        P = W @ Xp
        A = act.phi(P)
        R = V @ A - Yp
        gV = 2 * R @ A.T
        gW = 2 * ((act.dphi(P) * (V.T @ R)) @ Xp.T)
        W, V = W - eta * gW, V - eta * gV
        stamps.append(time.perf_counter())
    h = float(np.sum((V @ act.phi(W @ Xp) - Yp) ** 2))
    return np.diff(stamps), h


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    steps = 15 if quick else 40
    n, d0, d1, d2 = 2000, 50, 4000, 1
    act = builtin("gelu")
    data = song_et_al(d=d0, M=n, k=d2, h=100, seed=0)
    X, Y = data["X"], data["Y"]
    w1, w2 = 1 / np.sqrt(d0), 1 / np.sqrt(d1)
    W, V = init_layers(d0, d1, d2, w1, w2, seed=0)
    eta = 2e-4  # below eta_13 ~ 1/(2 nu^2) here (nu ~ 36): GD descends
    print("bench_shallow: recorded shallow GD step vs bare numpy step, and the Jacobian spectrum cost")
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, BLAS threads {BLAS_THREADS}")
    print(f"instance: n = {n}, d0 = {d0}, d1 = {d1}, d2 = {d2}, GeLU, LeCun init seed 0, eta = {eta}, {steps} steps")
    bare_gd(X, Y, W[0], V[0], act, eta, 2)  # warm-up
    stamps = []
    t0 = time.perf_counter()
    res = run_shallow(X, Y, W, V, act, eta=eta, steps=steps, omega1=w1, omega2=w2,
                      progress=lambda t, T: stamps.append(time.perf_counter()))
    t_run = time.perf_counter() - t0
    rec = np.diff(stamps)
    dt_bare, h_bare = bare_gd(X, Y, W[0], V[0], act, eta, steps)
    h_rec = float(res.arrays["loss"][0, -1])
    ok = abs(h_rec - h_bare) <= 1e-9 * max(1.0, h_bare)
    t_rec, t_b = float(np.percentile(rec, 10)), float(np.percentile(dt_bare, 10))
    t1 = time.perf_counter()
    jmin, jmax, method = jacobian_spectrum(X, W[0], V[0], act)
    t_jac = time.perf_counter() - t1
    ratio, jratio = t_rec / t_b, t_jac / t_b
    report("bench_shallow", "recorded shallow step / bare numpy step (n = 2000, d1 = 4000)", ratio, target=2.0)
    report("bench_shallow", "Jacobian spectrum / bare step (--jacobian)", jratio)
    lines = [
        f"recorded step {t_rec * 1e3:.1f} ms, bare step {t_b * 1e3:.1f} ms: ratio {ratio:.2f} (target <= 2: "
        f"{'met' if ratio <= 2 else 'NOT met'})",
        f"Jacobian spectrum ({method}): {t_jac:.2f} s = {jratio:.1f} bare steps per recorded step with --jacobian "
        f"(sigma_min = {jmin:.4g}, sigma_max = {jmax:.4g})",
        f"whole run_shallow call with setup (constants at Theta0, step-0 Jacobian): {t_run:.1f} s",
        f"cross-check: final loss recorded {h_rec:.12g} vs bare {h_bare:.12g}: {'agree' if ok else 'DISAGREE'}",
    ]
    for ln in lines:
        print(ln)
    _write_readme(lines, n, d0, d1, d2, steps)
    return 0 if ok else 1


def _write_readme(lines, n, d0, d1, d2, steps):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    body = (f"## bench_shallow (issue 10, Song et al.)\n\n`python bench/bench_shallow.py`: n = {n}, d0 = {d0}, "
            f"d1 = {d1}, d2 = {d2}, GeLU, {steps} steps, BLAS threads {BLAS_THREADS}; measured "
            f"{time.strftime('%Y-%m-%d')} on the shared development machine.\n\n"
            + "\n".join(f"* {ln}" for ln in lines) + "\n")
    begin, end = "<!-- bench_shallow -->", "<!-- /bench_shallow -->"
    replace_block(path, begin, end, f"{begin}\n{body}{end}")


if __name__ == "__main__":
    sys.exit(main())
