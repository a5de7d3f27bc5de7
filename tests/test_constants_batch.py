"""A batched run's per-seed constants are those of one seed at a time, bit for bit (issue 13).

* :func:`measure_primitives_batch` (one stacked LAPACK call per spectrum) gives every primitive of
  :func:`measure_primitives` exactly, and declines (None) where the seeds' reduced ranks differ;
* the theory's :func:`_per_seed_constants` (batched primitives) gives every field of :func:`compute_constants`
  called seed by seed without them (``to_dict`` and ``values``, compared with ``==``, NaN with NaN);
* passing eta0^(3)'s verified upper neighbour to eq. (88)'s solver changes nothing;
* ``evaluate.warm_up`` remembers that eqs. (87), (88) are not polynomial (no sympy work on later calls).
"""

from __future__ import annotations

import math

import numpy as np

from convtool.numeric.constants import compute_constants, measure_primitives, measure_primitives_batch
from convtool.numeric.experiments import default_batch, generator_batch
from convtool.numeric.models import TwoLayerLinear
from convtool.numeric.roots import solve_eta0_2, solve_eta0_3
from convtool.numeric.spectra import reduce_width
from convtool.numeric.theories.local_pl import _per_seed_constants
from convtool.results import NotApplicable


def _same(a, b, where=""):
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b, equal_nan=True), where
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} != {b!r}"


def test_batched_primitives_bit_for_bit():
    for b in (default_batch(seeds=5, seed=3, h=40), generator_batch("fig3", seeds=3, seed=1, h=80)):
        m = TwoLayerLinear(b.W1, b.W2)
        batched = measure_primitives_batch(b.losses, m.W1_0, m.W2_0, m.reductions)
        for r in range(b.R):
            _same(batched[r], measure_primitives(b.losses[r], m.W1_0[r], m.W2_0[r], m.reductions[r]), f"seed {r}")


def test_batched_primitives_decline_mixed_ranks():
    b = default_batch(seeds=2, seed=0, h=40)
    W1, W2 = b.W1.copy(), b.W2.copy()
    W2[1] = W1[1, : W2.shape[1]]  # seed 1: W2 rows inside W1's row space, a lower reduced rank
    reds = [reduce_width(W1[r], W2[r]) for r in range(2)]
    assert reds[0].rank != reds[1].rank
    assert measure_primitives_batch(b.losses, W1, W2, reds) is None


def test_per_seed_constants_equal_seed_by_seed():
    b = default_batch(seeds=4, seed=5, h=60)
    m = TwoLayerLinear(b.W1, b.W2)
    for kw in ({}, {"eta0": 1e-3}):
        res, _ = _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, kw.get("eta0"), m.reductions)
        for r in range(b.R):
            one = compute_constants(b.losses[r], m.W1_0[r], m.W2_0[r], reduction=m.reductions[r], **kw)
            _same(res[r].to_dict(), one.to_dict(), f"seed {r}")
            _same(res[r].values, one.values, f"seed {r} values")


def test_eta0_3_neighbour_passed_on_changes_nothing():
    b = default_batch(seeds=1, seed=2, h=60)
    res = compute_constants(b.losses[0], b.W1[0], b.W2[0])
    vals = dict(res.values)
    vals.pop("eta0_2", None)
    a, above, _ = solve_eta0_3(vals)
    assert a == vals["eta0_3"] and above > a
    _same(solve_eta0_2(vals, eta0_3_above=above).to_dict(), solve_eta0_2(vals).to_dict())


def test_warm_up_remembers_non_polynomial_equations():
    from convtool.analysis import evaluate as ev

    ev.warm_up()
    assert ev._polynomial_or_none("local-pl", "eta0_1") is None  # eq. 87: exp(eta0^c)
    assert ev._polynomial_or_none("local-pl", "eta_hat") is not None
    before = ev._polynomial_or_none.cache_info().misses
    ev.warm_up()
    assert ev._polynomial_or_none.cache_info().misses == before


def test_lock_step_signs_equal_seed_by_seed():
    """Enough seeds for drive_batch's long double pass (VECTOR_MIN): the same constants as one seed at a time."""
    from convtool.numeric import roots

    R = 2 * roots.VECTOR_MIN
    b = default_batch(seeds=R, seed=20, h=30)
    m = TwoLayerLinear(b.W1, b.W2)
    before = roots.SIGN_COUNTS["vector"]
    res, _ = _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, None, m.reductions)
    assert roots.SIGN_COUNTS["vector"] >= before + R  # root-side signs went through the batched pass
    for r in range(R):
        one = compute_constants(b.losses[r], m.W1_0[r], m.W2_0[r], reduction=m.reductions[r])
        _same(res[r].to_dict(), one.to_dict(), f"seed {r}")
        _same(res[r].values, one.values, f"seed {r} values")


def test_drive_batch_reports_each_seed_as_it_finishes(monkeypatch):
    """``done(k)`` fires when the k-th search finishes (the CLI's bar over the per-seed constants moves during
    the batch, not all at its end), with k = 1 .. R once each, and the values come back in seed order."""
    from convtool.numeric import roots

    monkeypatch.setattr(roots, "_vector_answers", lambda queries: [1] * len(queries))
    order: list = []

    def search(n, value):
        for _ in range(n):
            yield roots.SignQuery("toy", 0.0, {}, 0.0, True)
        order.append(value)
        return value

    log: list = []
    out = roots.drive_batch([search(3, "a"), search(0, "b"), search(1, "c")],
                            done=lambda k: log.append((k, list(order))))
    assert out == ["a", "b", "c"]
    assert log == [(1, ["b"]), (2, ["b", "c"]), (3, ["b", "c", "a"])]


def test_heterogeneous_batch_equals_seed_by_seed(monkeypatch):
    """A batch whose seeds take different paths (enough of them for the long double passes): mu = 0 (rank-deficient
    X: the evaluations' dicts differ from the others', so evaluate_many answers those seeds apart), a lower reduced
    rank (the primitives seed by seed), user eta0's above eta_max (the warning; Delta >= 1: eq. 103's bound not
    applicable), and ordinary seeds: every result and every warning as one seed at a time."""
    import warnings

    from convtool.numeric import roots
    from convtool.numeric.losses import SquaredLoss

    R = roots.VECTOR_MIN + 4
    monkeypatch.setattr(roots, "BRENT_MIN", 2)  # the lock-step Brent on the seeds that reach it
    b = default_batch(seeds=R, seed=8, h=30)
    losses = list(b.losses)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(b.losses[0].N, b.losses[0].n))
    X[:, -1] = X[:, 0]  # rank deficient: mu = 0
    losses[2] = SquaredLoss(X, b.losses[2].Y)
    W1, W2 = b.W1.copy(), b.W2.copy()
    W2[3] = W1[3, : W2.shape[1]]  # a lower reduced rank
    m = TwoLayerLinear(W1, W2)
    for eta0 in (None, 7e-4, 0.05):  # 7e-4: 1 - Delta <= 0 (the bound not applicable) on all but one seed
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            res, warn = _per_seed_constants(losses, m.W1_0, m.W2_0, 0.5, 2.0, eta0, m.reductions)
        one_warn = []
        for r in range(R):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                one = compute_constants(losses[r], m.W1_0[r], m.W2_0[r], reduction=m.reductions[r], eta0=eta0)
            one_warn += [str(w.message) for w in caught]
            _same(res[r].to_dict(), one.to_dict(), f"seed {r}, eta0 {eta0}")
            _same(res[r].values, one.values, f"seed {r} values")
        assert warn == one_warn
        assert not res[2].theorem_applies and "mu" in str(res[2].quantities["eta_max"])
        if eta0 == 7e-4:
            assert sum(isinstance(r.quantities["drift_total_bound"], NotApplicable) for r in res) >= R // 2
    assert m.reductions[3].rank < m.reductions[0].rank


# ------------------------------------------------------------------ fewer rounds, same results (issue 13)


def _batch_vs_loop(b, m, **kw):
    res, _ = _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, kw.get("eta0"), m.reductions)
    for r in range(b.R):
        one = compute_constants(b.losses[r], m.W1_0[r], m.W2_0[r], reduction=m.reductions[r], **kw)
        _same(res[r].to_dict(), one.to_dict(), f"seed {r}")
        _same(res[r].values, one.values, f"seed {r} values")
    return res


def test_one_pass_decides_each_threshold_as_certified_sign():
    """Sign queries of one function with different thresholds share one long double pass; each gets the sign of its
    own ``f(x) - threshold`` (:func:`certified_sign`, 50 digits where its certificate does not decide)."""
    from convtool.numeric import roots

    b = default_batch(seeds=3, seed=11, h=30)
    vals = [compute_constants(b.losses[r], b.W1[r], b.W2[r]).values for r in range(b.R)]
    qs = []
    for v in vals:  # eq. 87's left side at its root, above, below, against thresholds 1 (the equation) and others
        for x in (v["eta0_1"], 2 * v["eta0_1"], v["eta0_1"] / 2, roots._ulp_shift(v["eta0_1"], 1)):
            for th in (0.0, 1.0, 2.0, -0.5):
                qs.append(roots.SignQuery("eta0_1", x, v, th, True))
    answers = roots._vector_answers(qs)
    decided = 0
    for q, a in zip(qs, answers):
        if a is not None:
            decided += 1
            assert a == roots.certified_sign(q.name, q.x, q.values, threshold=q.threshold, near_root=True), q[1:4:2]
    if roots.LD_EXTENDED:
        assert decided >= len(qs) - 4


def test_vector_sign_thresholds_per_point_match_interval_sign():
    from convtool.numeric.certificate import LD, interval_sign, vector_sign

    lo = np.array([0.0, 1.0, -2.0, np.nan, 0.5, -1.0, 3.0], dtype=LD)
    hi = np.array([1.0, 2.0, -1.0, 1.0, 0.5, np.nan, 4.0], dtype=LD)
    th = np.array([-1.0, 1.0, -1.0, 0.0, 0.5, -2.0, 4.5])
    got = vector_sign(lo, hi, th).tolist()
    want = [interval_sign((float(a), float(b)), float(t)) for a, b, t in zip(lo, hi, th)]
    assert got == want == [1, 0, 0, 0, 0, 1, -1]


def _shift_roots(monkeypatch, roots):
    """Brent's floats moved by seed-dependent 3 .. 40 ulps (up for eqs. 87/88, down for eta_K): the side searches
    then gallop past the speculated window and bisect, in the batch as for one seed."""
    real_br, real_eta_K = roots._bracketed_root_gen, roots._eta_K_gen
    moved = [0]

    def offset(x):
        return 3 + roots._bits(x) % 38

    def shifted_root(f, a, b, **kw):
        r = yield from real_br(f, a, b, **kw)
        if r.converged and 0 < r.root < np.inf:
            r.root = min(roots._ulp_shift(r.root, offset(r.root)), b)
            moved[0] += 1
        return r

    def shifted_eta_K(g, a, b, fa, fb):
        x = yield from real_eta_K(g, a, b, fa, fb)
        moved[0] += 1
        return max(roots._ulp_shift(float(x), -offset(float(x))), a)

    monkeypatch.setattr(roots, "_bracketed_root_gen", shifted_root)
    monkeypatch.setattr(roots, "_eta_K_gen", shifted_eta_K)
    return moved


def test_batch_equals_seed_by_seed_where_searches_gallop_and_spec_is_undecided(monkeypatch):
    """The side searches gallop and bisect (roots moved off Brent's float) and part of every long double pass is
    left undecided (those main points go to mpmath, those spec points are not kept): every result as one seed at a
    time, bit for bit, and the memo did answer queries that galloping searches asked."""
    from convtool.numeric import certificate, roots

    moved = _shift_roots(monkeypatch, roots)
    monkeypatch.setattr(roots, "BRENT_MIN", 2)  # the lock-step Brent on these few seeds too
    real_vs = roots.vector_sign
    undecided = [0]

    def holes(lo, hi, threshold):  # every third point undecided
        s = np.array(real_vs(lo, hi, threshold))
        undecided[0] += int(np.count_nonzero(s[::3]))
        s[::3] = 0
        return s

    monkeypatch.setattr(roots, "vector_sign", holes)
    seen = {"gallop": 0, "memo": 0}
    real_gallop = roots._gallop_spec

    def gallop_spec(*a):
        seen["gallop"] += 1
        return real_gallop(*a)

    monkeypatch.setattr(roots, "_gallop_spec", gallop_spec)
    real_args = roots._memo_args

    def memo_args(q, others):
        seen["memo"] += 1
        return real_args(q, others)

    monkeypatch.setattr(roots, "_memo_args", memo_args)
    b = default_batch(seeds=8, seed=3, h=30)
    m = TwoLayerLinear(b.W1, b.W2)
    res = _batch_vs_loop(b, m)
    assert any("stepped down" in r.roots["eta0_1"].verified for r in res)  # the galloping searches moved the roots
    assert moved[0] > 0
    if certificate.LD_EXTENDED:
        assert undecided[0] > 0 and seen["gallop"] > 0 and seen["memo"] > 0
    _batch_vs_loop(b, m, eta0=1e-3)


def test_speculation_cuts_rounds_with_the_same_results(monkeypatch):
    """With the side searches' likely next points in the same pass (SignQuery.spec), the batch needs fewer lock-step
    rounds than without (SPEC_WINDOW 0), with identical results; fails if the speculation is removed."""
    from convtool.numeric import certificate, roots

    if not certificate.LD_EXTENDED:  # pragma: no cover - no long double pass: every sign by mpmath
        return
    b = default_batch(seeds=12, seed=7, h=30)
    m = TwoLayerLinear(b.W1, b.W2)
    runs = {}
    for window in (None, 0):
        if window == 0:
            monkeypatch.setattr(roots, "SPEC_WINDOW", 0)
            monkeypatch.setattr(roots, "SPEC_WINDOW_OF", {})
        r0 = roots.ROUNDS[0]
        res, warn = _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, None, m.reductions)
        runs[window] = (roots.ROUNDS[0] - r0, [r.to_dict() for r in res], [r.values for r in res], warn)
    (with_spec, *a), (without, *c) = runs[None], runs[0]
    _same(a, c)
    assert with_spec < without, (with_spec, without)


def _nan_in_brent(monkeypatch, roots, classes):
    """Eq. (87)'s residual NaN during Brent's method for some seeds (chosen by the bits of K): class "root" near its
    root (|g| < 1e-7: after a few iterations; eta0_1's solve reports it, status -3, and the seed goes on), class
    "eta_K" near ``g = 1`` (eq. 88's eta_K solve: scipy's ValueError ends that seed). The same function for the
    scalar path and the batch's array pass (its array twin), NaN only inside a Brent solve."""
    from convtool.analysis import evaluate as ev

    monkeypatch.setattr(roots, "BRENT_MIN", 2)  # the lock-step Brent on these few seeds
    real_f, names = ev.residual("eta0_1")
    twin = ev._array_twin(real_f)
    iK = names.index("K")
    in_brent = [False]
    hit = {"root": 0, "eta_K": 0}

    def kind(K):
        return classes[int(np.float64(K).view(np.int64)) % len(classes)]

    def f(x, *args):
        v = (twin if np.ndim(x) else real_f)(x, *args)
        if not in_brent[0]:
            return v
        K = np.asarray(args[iK], dtype=float)
        near0, near1 = np.abs(v) < 1e-7, np.abs(v - 1.0) < 1e-7
        ks = np.array([kind(k) for k in np.atleast_1d(K)]).reshape(K.shape)
        bad = ((ks == "root") & near0) | ((ks == "eta_K") & near1)
        hit["root"] += int(np.count_nonzero((ks == "root") & near0))
        hit["eta_K"] += int(np.count_nonzero((ks == "eta_K") & near1))
        out = np.where(bad, np.nan, v)
        return out if np.ndim(x) else np.float64(out)

    def flagged(fn):
        def run(*a, **kw):
            in_brent[0] = True
            try:
                return fn(*a, **kw)
            finally:
                in_brent[0] = False
        return run

    real_residual = ev.residual
    monkeypatch.setattr(ev, "residual", lambda name, paper=None: (f, names) if name == "eta0_1"
                        else real_residual(name, paper))
    monkeypatch.setattr(roots, "residual", ev.residual)
    real_twin = ev._array_twin
    monkeypatch.setattr(ev, "_array_twin", lambda fn: fn if fn is f else real_twin(fn))
    monkeypatch.setattr(roots, "_brent_one", flagged(roots._brent_one))
    monkeypatch.setattr(roots, "brentq_lockstep", flagged(roots.brentq_lockstep))
    return hit


def test_batch_nan_in_brent_for_some_seeds_equals_loop(monkeypatch):
    """Seeds whose residual is NaN mid-Brent (the batch's lock-step Brent): each meets scipy's NaN error in its own
    search as it does alone (eta0_1 status -3 with the same message and call count), the others go on; every result
    as one seed at a time."""
    from convtool.numeric import roots

    hit = _nan_in_brent(monkeypatch, roots, ["root", "none", "none"])
    b = default_batch(seeds=9, seed=2, h=30)
    m = TwoLayerLinear(b.W1, b.W2)
    res = _batch_vs_loop(b, m)
    bad = [r for r in res if r.roots["eta0_1"].status == -3]
    assert bad and len(bad) < len(res) and hit["root"] > 0
    assert all("is NaN; solver cannot continue (call" in r.roots["eta0_1"].message for r in bad)
    assert all(r.roots["eta0_1"].function_calls > 3 for r in bad)  # mid-Brent, not at the bracket


def test_batch_nan_error_raised_in_loop_order(monkeypatch):
    """Seeds whose eta_K solve meets a NaN raise scipy's ValueError (x and the call count attached); the batch raises
    the first such seed's error, as the loop over the seeds does, and the other seeds' NaN (status -3) do not."""
    import pytest

    from convtool.numeric import roots

    _nan_in_brent(monkeypatch, roots, ["root", "eta_K", "none", "none", "eta_K"])
    b = default_batch(seeds=9, seed=2, h=30)
    m = TwoLayerLinear(b.W1, b.W2)
    with pytest.raises(ValueError, match="is NaN; solver cannot continue") as batch:
        _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, None, m.reductions)
    loop = None
    for r in range(b.R):
        try:
            compute_constants(b.losses[r], m.W1_0[r], m.W2_0[r], reduction=m.reductions[r])
        except ValueError as exc:
            loop = exc
            break
    assert loop is not None and r > 0
    e = batch.value
    assert (str(e), e._x, e._function_calls) == (str(loop), loop._x, loop._function_calls)


def test_lock_step_brent_at_its_default_size_equals_loop(monkeypatch):
    """A batch of ``BRENT_MIN + 2`` seeds takes the lock-step Brent as shipped (all three solves per seed) and gives
    every result of the loop, bit for bit."""
    from convtool.numeric import roots

    sizes = []
    real = roots.brentq_lockstep

    def spy(*a, **kw):
        r = real(*a, **kw)
        sizes.append(len(r.root))
        return r

    monkeypatch.setattr(roots, "brentq_lockstep", spy)
    b = default_batch(seeds=roots.BRENT_MIN + 2, seed=11, h=20)
    m = TwoLayerLinear(b.W1, b.W2)
    _batch_vs_loop(b, m)
    assert len(sizes) == 3 and min(sizes) >= roots.BRENT_MIN
