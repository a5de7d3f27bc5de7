"""The compiled local-PL loop (convtool.numeric.theories.local_pl_fused, issue 13) against the engine's numpy loop.

Every record array of ``run_gd`` is compared, compiled (``CONVTOOL_JIT=1``) against numpy (``CONVTOOL_JIT=0``), on
instances that take every route of the kernel: n != m, batched seeds with one loss each, l* > 0, the untracked
(small) and the certified spectra with their dense fallback and SVD redo, a diverging run, a zero-loss run, and
the three schedules. Tolerances: rtol 1e-12 wherever L(t) >= 1e-4 L(0); below that the excess is at its float
floor, where the two loops' round-off (summation order, BLAS kernels) is amplified by about ``L(0)/L(t)``: there
rtol 1e-6, the golden files' tolerance for the floor (tests/test_golden.py). ``drift_step`` is resolved only to
``64 eps ||W1|| ||W2||`` (issue 14 item 7): compared at that absolute tolerance. Flags, statuses and step counts
must be equal. The numba cache lives in a temporary folder (tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled loop needs numba (pip install convtool[fast])")

from convtool.numeric.engine import run_gd  # noqa: E402
from convtool.numeric.generators import fig1  # noqa: E402
from convtool.numeric.losses import FactorizationLoss, SquaredLoss  # noqa: E402
from convtool.numeric.theories import local_pl_fused  # noqa: E402

EPS = np.finfo(float).eps
#: records of a smallest singular value, with their largest one and whether both are squared
SMALLEST = {"s1_min": ("s1_max", False), "s2_min": ("s2_max", False), "sW_min": ("sW_max", False)}


def q_size(res) -> int:
    """The largest Gram the spectra take (n, m or the reduced width)."""
    return max(res.config["n"], res.config["m"])


def _both(monkeypatch, *args, **kw):
    out = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("CONVTOOL_JIT", mode)
        before = local_pl_fused.RUNS[0]
        out[mode] = run_gd(*args, **kw)
        assert local_pl_fused.RUNS[0] - before == (1 if mode == "1" else 0), f"CONVTOOL_JIT={mode}: wrong path"
    return out["0"], out["1"]


def _compare(a, b, floor_rtol=1e-6):
    assert a.status == b.status
    np.testing.assert_array_equal(a.steps, b.steps)
    assert set(a.arrays) == set(b.arrays)
    L = a.arrays["loss"]
    L0 = np.abs(L[:, :1])
    for key, x in a.arrays.items():
        y = b.arrays[key]
        assert x.shape == y.shape, key
        if x.dtype == bool:
            np.testing.assert_array_equal(x, y, err_msg=key)
            continue
        if key == "drift_step":
            atol = 64 * EPS * np.nanmax(a.arrays["weight_fro_prod"])
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=atol, equal_nan=True, err_msg=key)
            continue
        T = x.shape[1]
        Ls = L[:, :T] if key != "reference_loss" else x
        above = np.abs(Ls) >= 1e-4 * L0 if key != "reference_loss" else np.ones_like(x, dtype=bool)
        if key in SMALLEST:  # a Gram's smallest eigenvalue: accurate to q eps cond^2 (models.spectra_batch, Notes)
            big, sq = SMALLEST[key]
            with np.errstate(all="ignore"):
                cond2 = (a.arrays[big][:, :T] / x) ** (1 if sq else 2)
            rtol = 1e-12 + 4 * q_size(a) * EPS * np.where(np.isfinite(cond2), cond2, 0.0)
            bad = above & ~(np.abs(y - x) <= rtol * np.abs(x)) & ~(np.isnan(x) & np.isnan(y))
            assert not bad.any(), (key, x[bad], y[bad])
            continue
        np.testing.assert_allclose(y[above], x[above], rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=key)
        np.testing.assert_allclose(y[~above], x[~above], rtol=floor_rtol, atol=1e-300, equal_nan=True,
                                   err_msg=f"{key} (float floor)")
    for u, v in zip(a.state_T, b.state_T):
        fin = np.isfinite(u)
        np.testing.assert_array_equal(fin, np.isfinite(v))
        np.testing.assert_allclose(v[fin], u[fin], rtol=1e-9, atol=1e-12 * np.abs(u[fin]).max(initial=1.0))


def _squared(rng, N, n, m, noise):
    X = rng.normal(size=(N, n))
    Wt = rng.normal(size=(n, m))
    return SquaredLoss(X, X @ Wt + noise * rng.normal(size=(N, m)))


def test_adaptive_tracked_spectra(monkeypatch):
    """n = m = 20 (the certificate's route, sizes >= 20), Fig. 1: certified steps and dense ones."""
    d = fig1(n=20, h=300, seed=1)
    a, b = _both(monkeypatch, SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="adaptive", steps=200)
    _compare(a, b)
    st = b.theory("local-pl")._fused_stats
    assert st["warm"] > 0 and st["dense"] > 0, st


def test_local_batched_n_ne_m_lstar_positive(monkeypatch):
    """n = 24 != m = 20, R = 3 seeds with a loss each (stacked), N > n with noise (l* > 0)."""
    rng = np.random.default_rng(2)
    n, m, h, R = 24, 20, 120, 3
    losses = [_squared(rng, 60, n, m, 0.3) for _ in range(R)]
    assert all(L.lstar > 0 for L in losses)
    W1, W2 = rng.normal(size=(R, n, h)) / h ** 0.25, rng.normal(size=(R, m, h)) / h ** 0.25
    a, b = _both(monkeypatch, losses, W1, W2, schedule="local", steps=150)
    _compare(a, b)


def test_constant_small_untracked_factorization(monkeypatch):
    """n = 5, m = 3 (the dense route every step), matrix factorization, constant step eta_max."""
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(5, 3))
    W1, W2 = rng.normal(size=(2, 5, 40)) * 0.3, rng.normal(size=(2, 3, 40)) * 0.3
    a, b = _both(monkeypatch, FactorizationLoss(Y), W1, W2, schedule="constant", steps=300)
    _compare(a, b)


def test_ill_conditioned_dense_fallback_and_svd_redo(monkeypatch):
    """W1(0) with row scales over 3 decades and W* with singular values over 4: the Grams of W1 and W have
    cond > 1e4 (the SVD redo of their smallest value), and the certificate fails on moving steps (the dense
    fallback), in both loops."""
    rng = np.random.default_rng(4)
    n = m = 20
    U, _ = np.linalg.qr(rng.normal(size=(n, n)))
    V, _ = np.linalg.qr(rng.normal(size=(m, m)))
    Wstar = U @ np.diag(np.logspace(0, -4, n)) @ V.T
    X = np.linalg.qr(rng.normal(size=(n, n)))[0] * 2.0
    W1 = np.logspace(0, -3, n)[:, None] * rng.normal(size=(n, 60)) * 0.2
    W2 = rng.normal(size=(m, 60)) * 0.2
    a, b = _both(monkeypatch, SquaredLoss(X, X @ Wstar), W1, W2, schedule="adaptive", steps=300)
    _compare(a, b)
    s1 = a.arrays["s1_min"][0, : a.steps[0] + 1] ** 2 / a.arrays["s1_max"][0, : a.steps[0] + 1] ** 2
    assert np.nanmin(s1) < 1e-4  # the redo's condition was met along the run
    assert b.theory("local-pl")._fused_stats["dense"] > 1


def test_diverging_run(monkeypatch):
    """A constant step 30 eta_max diverges; both loops stop at the same step with status diverged."""
    d = fig1(n=6, h=50, seed=5)
    loss = SquaredLoss(d["X"], d["Y"])
    probe = run_gd(loss, d["W1"], d["W2"], schedule="constant", steps=0)
    eta = 30 * probe.constants[0]["eta_max"]
    a, b = _both(monkeypatch, loss, d["W1"], d["W2"], schedule="constant", eta0=eta, steps=300)
    assert a.status == ["diverged"]
    # the growth amplifies the loops' round-off step by step: compared at 1e-8 (statuses and steps exactly)
    _compare(a, b, floor_rtol=1e-8)


def test_zero_loss_run(monkeypatch):
    """Y = X W1 W2^T exactly (sigma = 0): L(0) is within the rounding band, status zero_loss at step 0."""
    d = fig1(n=5, h=40, sigma=0.0, seed=6)
    a, b = _both(monkeypatch, SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="adaptive", steps=50)
    assert a.status == ["zero_loss"]
    _compare(a, b)


def test_dispatch_falls_back(monkeypatch):
    """CONVTOOL_JIT=0, other schedules, extra theories, short runs (auto), full width: the numpy loop."""
    d = fig1(n=4, h=30, seed=7)
    loss = SquaredLoss(d["X"], d["Y"])
    before = local_pl_fused.RUNS[0]
    monkeypatch.setenv("CONVTOOL_JIT", "1")
    run_gd(loss, d["W1"], d["W2"], schedule="backtracking", steps=5)
    run_gd(loss, d["W1"], d["W2"], schedule="adaptive", steps=5, reduce=False)
    monkeypatch.setenv("CONVTOOL_JIT", "")
    run_gd(loss, d["W1"], d["W2"], schedule="adaptive", steps=local_pl_fused.JIT_MIN_WORK - 1)
    monkeypatch.setenv("CONVTOOL_JIT", "0")
    run_gd(loss, d["W1"], d["W2"], schedule="adaptive", steps=local_pl_fused.JIT_MIN_WORK)
    assert local_pl_fused.RUNS[0] == before
    monkeypatch.setenv("CONVTOOL_JIT", "")
    run_gd(loss, d["W1"], d["W2"], schedule="adaptive", steps=local_pl_fused.JIT_MIN_WORK)
    assert local_pl_fused.RUNS[0] == before + 1


def test_progress_per_chunk(monkeypatch):
    """The compiled loop calls progress after every chunk, ending at the steps taken."""
    d = fig1(n=4, h=30, seed=8)
    calls = []
    monkeypatch.setenv("CONVTOOL_JIT", "1")
    res = run_gd(SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="constant", steps=600, tol=1e-300,
                 progress=lambda t, T: calls.append((t, T)))
    assert int(res.steps[0]) == 600
    assert calls == [(256, 600), (512, 600), (600, 600)]


def test_compile_is_reported_as_a_phase(monkeypatch):
    """The kernel's compile (or cache load, 10-30 s the first time) is a phase of the run, so the CLI shows it
    instead of a silent pause; without the compiled loop there is no such phase."""
    from convtool.numeric.theories.local_pl_fused import COMPILE_PHASE

    d = fig1(n=4, h=30, seed=8)
    for mode, expect in (("1", [(COMPILE_PHASE, 0, 1), (COMPILE_PHASE, 1, 1)]), ("0", [])):
        seen = []
        monkeypatch.setenv("CONVTOOL_JIT", mode)
        run_gd(SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="constant", steps=20,
               phase=lambda name, i, n: seen.append((name, i, n)))
        assert [p for p in seen if p[0] == COMPILE_PHASE] == expect


def test_help_does_not_import_numba():
    """Start-up stays lean: the CLI and the engine import numba only when a run takes the compiled loop."""
    code = ("import sys; import convtool.cli.main, convtool.numeric.engine; "
            "from click.testing import CliRunner; CliRunner().invoke(convtool.cli.main.cli, ['--help']); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False"


def test_golden_runs_through_the_compiled_loop(monkeypatch, tmp_path_factory, tmp_path):
    """tests/test_golden.py's run and compare cases reproduce the golden outputs with the compiled loop."""
    import test_golden

    paths = test_golden.make_golden.data_files(str(tmp_path_factory.mktemp("golden_fused")))
    monkeypatch.setenv("CONVTOOL_JIT", "1")
    before = local_pl_fused.RUNS[0]
    names = [k for k in sorted(test_golden.make_golden.cases(paths)) if k.startswith(("run_", "compare_"))]
    for i, name in enumerate(names):
        (tmp_path / str(i)).mkdir()
        test_golden.test_golden_output_unchanged(name, paths, tmp_path / str(i))
    assert local_pl_fused.RUNS[0] > before


def test_kernel_failure_leaves_the_numpy_loop(monkeypatch):
    """A kernel that does not compile (here: raises) is reported as a warning and the numpy loop runs."""
    from convtool.errors import ConvtoolWarning

    class Broken:
        @staticmethod
        def run_chunk(*args):
            raise TypeError("no compile")

    monkeypatch.setattr(local_pl_fused, "load_kernel", lambda slots: Broken)
    monkeypatch.setenv("CONVTOOL_JIT", "1")
    d = fig1(n=4, h=30, seed=9)
    before = local_pl_fused.RUNS[0]
    with pytest.warns(ConvtoolWarning, match="compiled run loop is not available"):
        res = run_gd(SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="adaptive", steps=20)
    assert local_pl_fused.RUNS[0] == before
    assert len(res.arrays["loss"][0]) == res.steps[0] + 1 and np.isfinite(res.arrays["s1_max"]).all()


def _kernel_module(monkeypatch):
    """The compiled kernel module of a run (its njit functions callable from Python)."""
    monkeypatch.setenv("CONVTOOL_JIT", "1")
    d = fig1(n=20, h=60, seed=0)
    run_gd(SquaredLoss(d["X"], d["Y"]), d["W1"], d["W2"], schedule="adaptive", steps=2)
    return next(iter(local_pl_fused._KERNELS.values()))


def test_reference_distance_bounds_dominate_the_distances(monkeypatch):
    """The certificates' Weyl shifts are bounds accumulated from the steps (local_pl_kernel.run_chunk): on a
    real GD trajectory (numpy's update, steps from small to twice eta_max, so the iterates move far), the
    summed ``move_bounds`` exceed ``||A(t) - A(s)||_F``, ``||B(t) - B(s)||_F`` and, with ``product_rounding``,
    ``||W(t) - W(s)||_F`` of the computed products, for every pair s < t; and one step's bound is tight (within
    0.1% plus the update's own rounding), so a certificate is not lost to a loose shift."""
    kern = _kernel_module(monkeypatch)
    from convtool.numeric.models import TwoLayerLinear

    rng = np.random.default_rng(3)
    n, m, h = 20, 12, 80
    loss = _squared(rng, 50, n, m, 0.2)
    A, B = (x[0] for x in TwoLayerLinear(rng.normal(size=(n, h)) / h ** 0.25,
                                         rng.normal(size=(m, h)) / h ** 0.25).init_state())
    n, k = A.shape
    m = B.shape[0]
    sa, sb = 1.0 + (n * k + 8) * EPS, 1.0 + (m * k + 8) * EPS
    eta_max = 1.0 / (loss.K * (np.linalg.norm(A, 2) ** 2 + np.linalg.norm(B, 2) ** 2))
    etas = eta_max * np.r_[np.geomspace(1e-3, 2.0, 30), np.full(30, 1.0)]
    states, moves = [(A.copy(), B.copy())], []
    mv = np.empty(3)
    tight = []
    for eta in etas:
        W = A @ B.T
        G = loss.G @ (W - loss.Wstar)
        gA, gB = G @ B, G.T @ A
        kern.move_bounds(eta, float(np.sum(gA * gA)), float(np.sum(gB * gB)), float(np.sum(A * A)),
                         float(np.sum(B * B)), sa, sb, mv)
        A2, B2 = A - eta * gA, B - eta * gB
        tight.append((mv[0], np.linalg.norm(A2 - A), EPS * np.linalg.norm(A)))
        A, B = A2, B2
        moves.append(mv.copy())
        states.append((A.copy(), B.copy()))
    for s in range(len(states) - 1):
        As, Bs = states[s]
        bound = np.zeros(3)  # the kernel's accumulator, reset at the reference s
        for t in range(s + 1, len(states)):
            bound = (bound + moves[t - 1]) * (1 + 2 * EPS)
            At, Bt = states[t]
            Wt = At @ Bt.T
            assert np.linalg.norm(At - As) <= bound[0], (s, t)
            assert np.linalg.norm(Bt - Bs) <= bound[1], (s, t)
            wround = kern.product_rounding(k, np.linalg.norm(At) * np.linalg.norm(Bt),
                                           np.linalg.norm(As) * np.linalg.norm(Bs))
            assert np.linalg.norm(Wt - As @ Bs.T) <= bound[2] + wround, (s, t)
    for b, actual, rnd in tight:
        assert actual <= b <= 1.001 * actual + 2 * rnd
    # the iterates moved (a fifth of their norm), and the whole run's bounds stay within a small factor of the
    # distances they bound (GD moves mostly one way: the sum of the steps is not far above the distance; the
    # product's bound takes Frobenius norms for spectral ones, 4.6x here)
    A0, B0 = states[0]
    total = np.sum(moves, axis=0)
    assert np.linalg.norm(A - A0) > 0.2 * np.linalg.norm(A0)
    assert total[0] <= 1.5 * np.linalg.norm(A - A0) and total[2] <= 10 * np.linalg.norm(A @ B.T - A0 @ B0.T)


def _test_matrices(rng, count):
    """Symmetric test matrices of sizes 1..32 in the families a dense route meets: Grams (full rank and rank
    deficient), indefinite, diagonal, clustered, graded, tiny and huge scales, one nonzero entry."""
    out = []
    for i in range(count):
        q = int(rng.integers(1, 33))
        kind = i % 8
        if kind == 0:
            F = rng.normal(size=(q, int(rng.integers(q, 2 * q + 2))))
            M = F @ F.T
        elif kind == 1:
            F = rng.normal(size=(q, max(1, q // 2)))
            M = F @ F.T
        elif kind == 2:
            M = rng.normal(size=(q, q))
            M = M + M.T
        elif kind == 3:
            M = np.diag(rng.normal(size=q)) * 10.0 ** rng.uniform(-5, 5)
        elif kind == 4:
            Q, _ = np.linalg.qr(rng.normal(size=(q, q)))
            M = (Q * (1 + 1e-12 * rng.normal(size=q))) @ Q.T
        elif kind == 5:
            Q, _ = np.linalg.qr(rng.normal(size=(q, q)))
            M = (Q * np.geomspace(1, 1e-14, q)) @ Q.T
        elif kind == 6:
            F = rng.normal(size=(q, 2 * q)) * 10.0 ** rng.choice([-140.0, 140.0])
            M = F @ F.T
        else:
            M = np.zeros((q, q))
            M[0, 0] = rng.normal()
        out.append((kind, 0.5 * (M + M.T)))
    return out


def test_extreme_eigvalsh_against_lapack(monkeypatch):
    """The kernel's small dense extreme eigenvalues (tridiagonalization, Laguerre, Sturm-count verification)
    against ``numpy.linalg.eigvalsh`` on 2400 matrices: wherever it reports success both values are within
    ``3 q eps max |lambda|`` of LAPACK's (its error bound, and eigvalsh's, is ``O(q eps ||M||)``), it succeeds
    on nearly every full-rank Gram (the kind the two-layer loop forms) and most graded spectra, and a failure
    is only ever reported, never a wrong value; a NaN-free input never gives NaN."""
    kern = _kernel_module(monkeypatch)
    rng = np.random.default_rng(11)
    ok_by_kind: dict = {}
    for kind, M in _test_matrices(rng, 2400):
        q = M.shape[0]
        e = np.linalg.eigvalsh(M)
        a, b, p, out = np.empty(q), np.empty(q), np.empty(q), np.full(2, np.nan)
        ok = kern.extreme_eigvalsh(M.copy(), a, b, p, out)
        ok_by_kind.setdefault(kind, []).append(ok)
        if ok:
            scale = max(np.abs(e).max(), 1e-300)
            assert abs(out[0] - e[0]) <= 3 * q * EPS * scale, (kind, q, out, e[0], e[-1])
            assert abs(out[1] - e[-1]) <= 3 * q * EPS * scale, (kind, q, out, e[0], e[-1])
    rate = {k: np.mean(v) for k, v in ok_by_kind.items()}
    assert rate[0] >= 0.95 and rate[5] >= 0.75 and rate[3] >= 0.95, rate


def test_extreme_pairs_against_lapack(monkeypatch):
    """The kernel's warm-start reference without LAPACK (extreme and second extreme eigenvalues, the extreme
    eigenvectors) against ``numpy.linalg.eigh`` on the same 2400 matrices (sizes 3..32): wherever it reports
    success the four values are within ``3 q eps max |lambda|`` of LAPACK's, both vectors have unit norm, zero
    padding rows and residual ``||M v - lambda v|| <= 10 q eps max |lambda|`` (what eigh's vectors attain); it
    succeeds on nearly every generic matrix (Grams of full rank, indefinite ones: the imbalance), and a failure
    is only reported (the kernel then takes eigh)."""
    kern = _kernel_module(monkeypatch)
    rng = np.random.default_rng(11)
    ok_by_kind: dict = {}
    for kind, M in _test_matrices(rng, 2400):
        q = M.shape[0]
        if q < 3:
            continue
        e = np.linalg.eigvalsh(M)
        a, b, p, out = np.empty(q), np.empty(q), np.empty(q), np.full(4, np.nan)
        V = np.zeros((q + 3, 2))
        ok = kern.extreme_pairs(M.copy(), a, b, p, out, V)
        ok_by_kind.setdefault(kind, []).append(ok)
        if not ok:
            continue
        scale = max(np.abs(e).max(), 1e-300)
        for got, want in zip(out, (e[0], e[-1], e[1], e[-2])):
            assert abs(got - want) <= 3 * q * EPS * scale, (kind, q, out, e)
        assert not V[q:].any()
        Ms = M / scale  # residuals of the scaled matrix (the huge and tiny kinds overflow otherwise)
        for col, lam in ((0, out[0]), (1, out[1])):
            v = V[:q, col]
            assert abs(np.linalg.norm(v) - 1.0) <= 4 * q * EPS
            assert np.linalg.norm(Ms @ v - (lam / scale) * v) <= 10 * q * EPS, (kind, q, col)
    rate = {k: np.mean(v) for k, v in ok_by_kind.items()}
    assert rate[0] >= 0.95 and rate[2] >= 0.9 and rate[3] >= 0.95, rate


def test_sv_extremes_against_lapack_svd(monkeypatch):
    """The kernel's SVD redo (``dgesdd`` without vectors on the row-major factor read as its column-major
    transpose) gives numpy's largest and smallest singular values to ``max(p, c) eps sigma_max`` (the SVD's own
    accuracy) on 400 factors of shapes p <= c up to 14 x 30 with columns graded over ten decades."""
    kern = _kernel_module(monkeypatch)
    from numba.extending import get_cython_function_address

    gesdd = get_cython_function_address("scipy.linalg.cython_lapack", "dgesdd")
    rng = np.random.default_rng(3)
    for _ in range(400):
        p = int(rng.integers(1, 15))
        c = int(rng.integers(p, 31))
        F = rng.normal(size=(p, c)) * 10.0 ** rng.uniform(-5, 5, size=(1, c))
        mx = max(p, c)
        ints = np.zeros(7, dtype=np.int32)
        ints[5] = 3 * p + max(c, 7 * p) + 64
        out = np.full(4, np.nan)
        ok = kern.sv_extremes(gesdd, F, np.empty(mx * mx), np.empty(mx), np.empty(ints[5]),
                              np.empty(8 * mx, dtype=np.int32), ints, np.array([76, 78, 78], dtype=np.uint8), out)
        sv = np.linalg.svd(F, compute_uv=False)
        assert ok and ints[6] == 0
        assert abs(out[0] - sv[0]) <= mx * EPS * sv[0] and abs(out[1] - sv[-1]) <= mx * EPS * sv[0], (p, c)


def _tridiagonalize_reference(M, a, b):
    """The Householder reduction of local_pl_kernel.tridiagonalize as first written (one row at a time,
    two-index loops), in plain Python: float64 scalar arithmetic in the same order, so the compiled kernel must
    give the same floats bit for bit."""
    q = M.shape[0]
    v = np.empty(q)
    p = np.empty(q)
    for k in range(q - 2):
        s2 = 0.0
        for i in range(k + 1, q):
            s2 += M[i, k] * M[i, k]
        x0 = M[k + 1, k]
        a[k] = M[k, k]
        if s2 == 0.0:
            b[k] = 0.0
            M[k, k] = 0.0
            continue
        alpha = -np.sqrt(s2) if x0 >= 0 else np.sqrt(s2)
        M[k + 1, k] = x0 - alpha
        beta = 2.0 / (s2 - x0 * x0 + (x0 - alpha) * (x0 - alpha))
        M[k, k] = beta
        for i in range(k + 1, q):
            v[i] = M[i, k]
        for i in range(k + 1, q):
            t = 0.0
            for j in range(k + 1, q):
                t += M[i, j] * v[j]
            p[i] = beta * t
        kk = 0.0
        for i in range(k + 1, q):
            kk += v[i] * p[i]
        kk *= 0.5 * beta
        for i in range(k + 1, q):
            p[i] -= kk * v[i]
        for i in range(k + 1, q):
            for j in range(k + 1, q):
                M[i, j] -= v[i] * p[j] + p[i] * v[j]
        b[k] = alpha
    if q >= 2:
        a[q - 2] = M[q - 2, q - 2]
        b[q - 2] = M[q - 1, q - 2]
    a[q - 1] = M[q - 1, q - 1]


def test_tridiagonalize_matches_the_row_at_a_time_reduction(monkeypatch):
    """The compiled tridiagonalization (four rows per pass of ``M v``, the rank-2 update on row slices) gives the
    same floats, bit for bit, as the plain row-at-a-time reduction (:func:`_tridiagonalize_reference`) in the
    diagonal, off-diagonal and the reflectors left in M, on 300 of the dense-route test matrices (sizes 1..32,
    every family, scaled as the kernel scales them) and on matrices that are not exactly symmetric (a Gram from
    BLAS need not be)."""
    kern = _kernel_module(monkeypatch)
    rng = np.random.default_rng(12)
    mats = []
    for _, M in _test_matrices(rng, 300):  # scaled as the kernel scales them (scaled_extremes): max |M| in [1, 2)
        amax = np.abs(M).max()
        mats.append(M * 2.0 ** -np.floor(np.log2(amax)) if amax > 0 else M)
    mats += [M + 1e-13 * rng.normal(size=M.shape) for M in mats[:40]]
    for M in mats:
        q = M.shape[0]
        M1, M2 = M.copy(), M.copy()
        a1, b1, a2, b2 = np.full(q, np.nan), np.full(q, np.nan), np.full(q, np.nan), np.full(q, np.nan)
        kern.tridiagonalize(M1, a1, b1, np.empty(q))
        _tridiagonalize_reference(M2, a2, b2)
        assert np.array_equal(a1, a2) and np.array_equal(b1[: q - 1], b2[: q - 1]), q
        assert np.array_equal(M1, M2), q


def test_three_extremes_at_once_match_one_at_a_time(monkeypatch):
    """``extreme_eigvalsh3`` (three matrices' Laguerre iterations interleaved) and ``gram_dense3`` (three Grams'
    dense route at once) give the same floats, bit for bit, and the same success flags as ``extreme_eigvalsh``
    and ``gram_dense`` one matrix at a time: on the dense-route test matrices in triples of one size (sizes
    1..32, mixed families, so that the iterations take different numbers of steps and some verifications fail),
    with a zero matrix and one of huge scale (skipped chains) among them; and on factor triples F (p, c) whose
    Grams take the SVD redo (graded rows) or hold a NaN."""
    kern = _kernel_module(monkeypatch)
    rng = np.random.default_rng(13)
    by_size: dict = {}
    for _, M in _test_matrices(rng, 1200):
        by_size.setdefault(M.shape[0], []).append(M)
    triples = []
    for q, ms in sorted(by_size.items()):
        triples += [ms[i:i + 3] for i in range(0, len(ms) - 2, 3)]
        big = ms[1] / max(np.abs(ms[1]).max(), 1e-300) * 1e291  # max |M| above 1e290: no scaling, eigvalsh
        triples.append([ms[0], np.zeros((q, q)), big])
    fails = 0
    for trip in triples:
        q = trip[0].shape[0]
        G3 = np.array(trip)
        st = np.ones(3, dtype=np.int64)
        st[1] = 1 if q % 2 else 3  # a skipped matrix now and then
        out3 = np.full((3, 2), np.nan)
        kern.extreme_eigvalsh3(G3, np.empty_like(G3), np.empty((3, q)), np.empty((3, q)), np.empty((3, q)), st,
                               out3, np.empty(6), np.zeros(6, dtype=np.bool_), np.empty(3))
        assert np.array_equal(G3, np.array(trip))  # not modified
        for j, M in enumerate(trip):
            if j == 1 and q % 2 == 0:
                assert st[j] == 3 and np.isnan(out3[j]).all()
                continue
            out = np.full(2, np.nan)
            ok = kern.extreme_eigvalsh(M.copy(), np.empty(q), np.empty(q), np.empty(q), out)
            assert st[j] == int(ok), (q, j)
            fails += not ok
            assert np.array_equal(out3[j], out, equal_nan=True), (q, j, out3[j], out)
    assert fails > 0  # the failure flag was exercised
    from numba.extending import get_cython_function_address

    gesdd = get_cython_function_address("scipy.linalg.cython_lapack", "dgesdd")
    redo = 0
    for i in range(120):
        p = int(rng.integers(1, 12))
        Fs = [rng.normal(size=(p, int(rng.integers(p, 25)))) * 10.0 ** rng.uniform(-3, 3, size=(p, 1))
              for _ in range(3)]
        if i % 10 == 0:
            Fs[2][0, 0] = np.nan
        need = (bool(i % 3), True, bool(i % 2))
        mx = max(25, p)
        ints = np.zeros(7, dtype=np.int32)
        ints[5] = 3 * mx + 7 * mx + 64
        work = (gesdd, np.empty(mx * mx), np.empty(mx), np.empty(ints[5]), np.empty(8 * mx, dtype=np.int32), ints,
                np.array([76, 78, 78], dtype=np.uint8))
        out3 = np.full((3, 2), np.nan)
        kern.gram_dense3(Fs[0], Fs[1], Fs[2], need[0], need[1], need[2], out3, np.empty((3, p, p)),
                         np.empty((3, p, p)), np.empty((3, p)), np.empty((3, p)), np.empty((3, p)),
                         np.zeros(3, dtype=np.int64), np.empty((3, 2)), np.empty(6), np.zeros(6, dtype=np.bool_),
                         np.empty(3), *work, np.empty(4))
        for j, F in enumerate(Fs):
            out = np.full(2, np.nan)
            a, b, c = np.empty(p), np.empty(p), np.empty(p)
            kern.gram_dense(F, need[j], False, np.zeros((p, 2)), np.zeros(4), out, a, b, c, np.empty(4), *work[:5],
                            work[5], work[6])
            assert np.array_equal(out3[j], out, equal_nan=True), (i, j, out3[j], out)
            G = F @ F.T
            if need[j] and np.isfinite(G).all() and p > 1:
                e = np.linalg.eigvalsh(G)
                redo += e[0] < 1e-4 * e[-1]
    assert redo > 10  # the SVD redo was exercised


def _inverse_iteration_reference(a, b, q, sigma, tnorm, y):
    """local_pl_kernel's one-shift inverse iteration as first written, in plain Python: ``y`` (q), an eigenvector
    of the tridiagonal (``a``, ``b``) for the eigenvalue nearest ``sigma`` (three steps from a fixed start, ``T -
    sigma I`` factored once with partial pivoting). Returns False where the vector is not finite."""
    d = np.empty(q)
    dl = np.empty(q)
    du = np.empty(q)
    du2 = np.zeros(q)
    piv = np.zeros(q, dtype=np.int64)
    tiny = EPS * tnorm + 1e-300  # EPS: the kernel's (np.finfo(float).eps)
    for i in range(q):
        d[i] = a[i] - sigma
    for i in range(q - 1):
        dl[i] = b[i]
        du[i] = b[i]
    for i in range(q - 1):
        if abs(d[i]) >= abs(dl[i]):
            if abs(d[i]) < tiny:
                d[i] = tiny if d[i] >= 0 else -tiny
            fact = dl[i] / d[i]
            dl[i] = fact
            d[i + 1] -= fact * du[i]
        else:
            piv[i] = 1
            fact = d[i] / dl[i]
            d[i] = dl[i]
            dl[i] = fact
            temp = du[i]
            du[i] = d[i + 1]
            d[i + 1] = temp - fact * d[i + 1]
            if i < q - 2:
                du2[i] = du[i + 1]
                du[i + 1] = -fact * du[i + 1]
    if abs(d[q - 1]) < tiny:
        d[q - 1] = tiny if d[q - 1] >= 0 else -tiny
    for i in range(q):  # a fixed start with no special structure (the golden-ratio sequence)
        y[i] = 0.5 + ((i + 1) * 0.6180339887498949) % 1.0
    for _ in range(3):
        for i in range(q - 1):
            if piv[i] == 0:
                y[i + 1] -= dl[i] * y[i]
            else:
                temp = y[i]
                y[i] = y[i + 1]
                y[i + 1] = temp - dl[i] * y[i]
        y[q - 1] /= d[q - 1]
        if q > 1:
            y[q - 2] = (y[q - 2] - du[q - 2] * y[q - 1]) / d[q - 2]
        for i in range(q - 3, -1, -1):
            y[i] = (y[i] - du[i] * y[i + 1] - du2[i] * y[i + 2]) / d[i]
        big = 0.0
        for i in range(q):
            big = max(big, abs(y[i]))
        if not (0.0 < big < np.inf):
            return False
        for i in range(q):
            y[i] /= big
    nrm = 0.0
    for i in range(q):
        nrm += y[i] * y[i]
    nrm = np.sqrt(nrm)
    for i in range(q):
        y[i] /= nrm
    return True


def _back_transform_reference(M, y):
    """The kernel's one-vector back-transformation as first written, in plain Python: ``y <- H y`` for the
    reflectors :func:`local_pl_kernel.tridiagonalize` left in ``M``."""
    q = M.shape[0]
    for k in range(q - 3, -1, -1):
        beta = M[k, k]
        if beta == 0.0:
            continue
        t = 0.0
        for i in range(k + 1, q):
            t += M[i, k] * y[i]
        t *= beta
        for i in range(k + 1, q):
            y[i] -= t * M[i, k]


def test_two_vectors_at_once_match_one_at_a_time(monkeypatch):
    """``tridiag_inverse_iteration2`` and ``back_transform2`` (two eigenvectors' recurrences in the same loops)
    give the same floats, bit for bit, and the same success flag as the one-vector loops in plain Python
    (:func:`_inverse_iteration_reference`, :func:`_back_transform_reference`) on 300 of the dense-route test
    matrices (scaled as the kernel scales them, tridiagonalized by the kernel), with shifts at the extreme
    eigenvalues, at an interior one (pivoting both ways), and a NaN shift (the failure flag)."""
    kern = _kernel_module(monkeypatch)
    rng = np.random.default_rng(14)
    fails = 0
    for i, (_, M) in enumerate(_test_matrices(rng, 300)):
        q = M.shape[0]
        if q < 3:
            continue
        amax = np.abs(M).max()
        if amax == 0:
            continue
        M = M * 2.0 ** -np.floor(np.log2(amax))
        a, b = np.empty(q), np.empty(q)
        kern.tridiagonalize(M, a, b, np.empty(q))
        T = np.diag(a) + np.diag(b[: q - 1], 1) + np.diag(b[: q - 1], -1)
        e = np.linalg.eigvalsh(T)
        tnorm = np.abs(T).sum(axis=1).max()
        s0, s1 = (e[0], e[-1]) if i % 3 else (e[q // 2], np.nan if i % 2 else e[1])
        Y = np.full((2, q), np.nan)
        ok2 = kern.tridiag_inverse_iteration2(a, b, q, s0, s1, tnorm, Y, np.empty((2, 4, q)),
                                              np.empty((2, q), dtype=np.int64))
        ys = [np.empty(q), np.empty(q)]
        oks = [_inverse_iteration_reference(a, b, q, s, tnorm, y) for s, y in zip((s0, s1), ys)]
        assert ok2 == (oks[0] and oks[1]), (i, q)
        fails += not ok2
        if not ok2:
            continue
        assert np.array_equal(Y[0], ys[0]) and np.array_equal(Y[1], ys[1]), (i, q)
        kern.back_transform2(M, Y)
        for y in ys:
            _back_transform_reference(M, y)
        assert np.array_equal(Y[0], ys[0]) and np.array_equal(Y[1], ys[1]), (i, q)
    assert fails > 0  # the NaN shifts
