"""The batched run's work around the per-seed constants and the loop (issue 13): each shortcut gives what the
general route gives, bit for bit (the whole-run identity is tests/test_golden.py's; these check each path on
inputs where it and the general route could part)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import convtool.numeric.models as models
from convtool.numeric.engine import reference_losses, run_reference
from convtool.numeric.losses import SquaredLoss, stack_losses
from convtool.numeric.spectra import _qr_overwrite, reduce_width_stack
from convtool.numeric.theories.local_pl import _FlatOnDemand, _flat


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------ the QR without numpy's copy of its input
@pytest.mark.parametrize("shape,rank", [((4, 60, 7), None), ((3, 5, 9), None), ((2, 40, 6), 3), ((30, 4), None)])
def test_qr_overwrite_is_numpy_qr(shape, rank):
    """``_qr_overwrite`` (numpy's qr gufuncs on the caller's scratch copy) equals ``np.linalg.qr(mode="reduced")``
    bit for bit: tall and wide stacks, a rank-deficient stack, one matrix, a transposed (F-ordered) view."""
    import convtool.numeric.spectra as spectra

    from numpy.linalg import _umath_linalg as um

    if hasattr(um, "qr_r_raw"):  # numpy 2's gufuncs pass the check and are taken (else this checks nothing)
        assert spectra._qr_gufuncs() is not None
    rng = np.random.default_rng(3)
    a = rng.normal(size=shape)
    if rank is not None:
        a = a[..., :rank] @ rng.normal(size=(rank, shape[-1]))
    for x in (a, np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)):
        q0, r0 = np.linalg.qr(x, mode="reduced")
        q1, r1 = _qr_overwrite(x.copy())
        assert _same(q0, q1) and _same(r0, r1)


@pytest.mark.parametrize("numpy_gufuncs", ["missing", "changed"])
def test_qr_overwrite_falls_back(monkeypatch, numpy_gufuncs):
    """Where numpy has no ``qr_r_raw`` / ``qr_reduced`` (private names), or has gufuncs that fail the one check
    against ``np.linalg.qr`` (here a ``qr_r_raw`` that no longer writes R back into its input), ``np.linalg.qr``
    itself: the same floats, and the input left as it was."""
    import convtool.numeric.spectra as spectra
    from numpy.linalg import _umath_linalg as um

    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 20, 5))
    q0, r0 = np.linalg.qr(a, mode="reduced")
    if numpy_gufuncs == "missing":
        fake = types.SimpleNamespace()
    else:
        fake = types.SimpleNamespace(qr_r_raw=lambda x, signature=None: um.qr_r_raw(x.copy(), signature=signature),
                                     qr_reduced=um.qr_reduced)
    monkeypatch.setattr(np.linalg, "_umath_linalg", fake)
    monkeypatch.setattr(spectra, "_QR_GUFUNCS", [])
    x = a.copy()
    q1, r1 = _qr_overwrite(x)
    assert _same(q0, q1) and _same(r0, r1) and np.array_equal(x, a)
    assert spectra._QR_GUFUNCS == [False]


def test_reduce_width_stack_leaves_its_inputs():
    """The QR overwrites only reduce_width_stack's own concatenation, never the weights passed in."""
    rng = np.random.default_rng(6)
    W1, W2 = rng.normal(size=(3, 4, 25)), rng.normal(size=(3, 2, 25))
    c1, c2 = W1.copy(), W2.copy()
    reduce_width_stack(W1, W2)
    assert np.array_equal(W1, c1) and np.array_equal(W2, c2)


# ------------------------------------------------------------------ BLAS thread limits through one controller
def test_blas_threads_limits_every_blas_and_restores():
    """Inside ``blas_threads(1)`` every BLAS threadpoolctl finds (looked up afresh here) runs one thread; after
    it, each has its thread count back; a controller kept from an earlier call does the same."""
    try:
        import threadpoolctl
    except ImportError:  # optional: then a no-op
        with models.blas_threads(1):
            pass
        return
    import scipy.linalg  # noqa: F401 - scipy's own BLAS loaded too

    before = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
              if lib["user_api"] == "blas"}
    for _ in range(2):  # the second context reuses the controller
        with models.blas_threads(1):
            inside = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                      if lib["user_api"] == "blas"}
        after = {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                 if lib["user_api"] == "blas"}
        assert inside and set(inside) == set(before) and all(v == 1 for v in inside.values())
        assert after == before


def test_blas_controller_made_again_after_an_import(monkeypatch):
    """The controller is kept while ``sys.modules`` is unchanged and made again after an import (a new module
    may have brought a BLAS) or for another threadpoolctl module; a module without ``ThreadpoolController``
    (threadpoolctl < 3) gets ``threadpool_limits`` each time."""
    made, limits = [], []

    class Controller:
        def __init__(self):
            made.append(self)

        def limit(self, limits=None, user_api=None):
            import contextlib

            limits_.append((self, limits, user_api))
            return contextlib.nullcontext()

    limits_ = limits
    fake = types.SimpleNamespace(ThreadpoolController=Controller)
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake)
    monkeypatch.setattr(models, "_CONTROLLER", [])
    for _ in range(3):
        with models.blas_threads(1):
            pass
    assert len(made) == 1 and [x[1:] for x in limits] == [(1, "blas")] * 3 and all(x[0] is made[0] for x in limits)
    monkeypatch.setitem(sys.modules, "convtool_test_new_module", types.ModuleType("convtool_test_new_module"))
    with models.blas_threads(1):
        pass
    assert len(made) == 2 and limits[-1][0] is made[1]
    with models.blas_threads(1):
        pass
    assert len(made) == 2
    other = types.SimpleNamespace(ThreadpoolController=Controller)
    monkeypatch.setitem(sys.modules, "threadpoolctl", other)
    with models.blas_threads(1):
        pass
    assert len(made) == 3
    with models.blas_threads(None):  # None: the environment decides, nothing asked
        pass
    assert len(made) == 3 and len(limits) == 6


# ------------------------------------------------------------------ the reference run's rows, cut at tol
def _cut_rows_loop(out, tol):
    """The rows cut one by one (the loop reference_losses had before issue 13): each ends at its first
    ``L <= tol L(0)``; NaN after."""
    rows = []
    for row in out:
        hit = np.flatnonzero(row <= tol * row[0])
        rows.append(row[: hit[0] + 1] if hit.size else row)
    ref = np.full((len(rows), max(r.size for r in rows)), np.nan)
    for i, r in enumerate(rows):
        ref[i, : r.size] = r
    return ref


@pytest.mark.parametrize("steps", [0, 3, 40, 400])
def test_reference_rows_cut_as_one_by_one(steps):
    """Seeds of very different conditioning reach tol at different steps (or not within ``steps``): the stacked
    reference's rows equal the seed-by-seed cut of the same run, and the array is a fresh C-contiguous one."""
    rng = np.random.default_rng(7)
    losses, W1, W2 = [], [], []
    for r, cond in enumerate([1.0, 1.5, 4.0, 30.0, 1.0]):
        U = np.linalg.qr(rng.normal(size=(12, 4)))[0]
        X = U * np.geomspace(1.0, 1.0 / np.sqrt(cond), 4)
        Y = rng.normal(size=(12, 3)) if r != 4 else X @ rng.normal(size=(4, 3))  # seed 4: l* = 0
        losses.append(SquaredLoss(X, Y))
        W1.append(rng.normal(size=(4, 9)))
        W2.append(rng.normal(size=(3, 9)))
    W1, W2 = np.array(W1), np.array(W2)
    tol = 1e-6
    ref, _ = reference_losses(losses, W1, W2, steps, tol)
    out = run_reference(stack_losses(losses), W1 @ np.swapaxes(W2, -1, -2), steps, tol=tol)
    expect = _cut_rows_loop(out, tol)
    assert _same(ref, expect) and ref.flags.c_contiguous
    reached = np.isfinite(ref).sum(axis=1)
    if steps == 400:
        assert len(set(reached.tolist())) >= 3  # the instance does exercise different cuts


# ------------------------------------------------------------------ stacked losses' per-seed scalars
def test_stack_losses_scalars_as_np_stack():
    """The per-seed scalars (Python floats) are stacked by one ``np.array``: the same (R,) float64 array as
    ``np.stack`` of them; a numpy scalar among them takes ``np.stack`` itself, with the same result."""
    rng = np.random.default_rng(8)
    losses = [SquaredLoss(rng.normal(size=(9, 3)), rng.normal(size=(9, 2))) for _ in range(4)]
    st = stack_losses(losses)
    for attr in ("mu", "K", "lstar", "X", "Wstar", "G", "Xr"):
        expect = np.stack([np.asarray(getattr(L, attr), dtype=float) for L in losses])
        assert _same(getattr(st, attr), expect), attr
    assert all(type(L.mu) is float for L in losses)  # the fast path was taken above
    losses[2].mu = np.float64(losses[2].mu)
    assert _same(stack_losses(losses).mu, st.mu)


# ------------------------------------------------------------------ finalize's flattening on demand
def test_flat_on_demand_is_flat():
    """``_FlatOnDemand`` gives ``_flat``'s entry for each key read, flattens each once, sees entries added to
    the env later, and raises KeyError for a key the env lacks."""
    rng = np.random.default_rng(9)
    R, T1 = 3, 5
    env = {"a": rng.normal(size=R), "b": rng.normal(size=(R, T1)), "c": np.float64(2.5), "d": rng.normal(size=R)}
    lazy = _FlatOnDemand(env, (R, T1))
    full = _flat(env, (R, T1))
    for k in ("b", "a", "c"):
        assert _same(np.ascontiguousarray(lazy[k]), np.ascontiguousarray(full[k])) and lazy[k] is lazy[k]
    assert set(lazy) == {"a", "b", "c"}  # "d" was never read
    env["e"] = rng.normal(size=(R, T1))
    assert np.array_equal(lazy["e"], env["e"].ravel())
    with pytest.raises(KeyError):
        lazy["nope"]


# ------------------------------------------------------------------ the theories' per-seed constants, merged
def test_merged_constants_as_the_comprehension():
    """``engine._merged`` gives what the merging comprehension gave: a key keeps its first place and its last
    value, theories without constants add nothing, and the result is a new dict."""
    from convtool.numeric.engine import _merged

    per_theory = [[{"a": 1, "b": 2.5, "x": None}], [], [{"b": 3, "c": [4], "a": 0}], [{"d": "e"}]]
    expect = {k: v for cs in per_theory if cs for k, v in cs[0].items()}
    got = _merged([cs[0] for cs in per_theory if cs])
    assert got == expect and list(got) == list(expect) == ["a", "b", "x", "c", "d"]
    assert got is not per_theory[0][0] and _merged([]) == {}
