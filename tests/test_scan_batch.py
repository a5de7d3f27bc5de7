"""A batch's eq. (88) scans skip the points a float-path enclosure certifies, with the same decisions (issue 13).

* :func:`float_path_enclosure` holds the float code's own result: at every float of a block, the value the
  lambdified function returns lies in the block's enclosure wherever both ends are finite (eq. 88's F over random
  inputs and blocks, and hand-written sources with negative inputs, quotients, logs, cancellation);
* it is tight enough to certify (the default batch's scans, all but their top points);
* :func:`stacked_function` returns each row's ``f(row, *args)`` bit for bit (rows of every length and offset,
  subnormal intermediates), and declines (None) where an exponent differs between rows or a row's scalar part
  raises;
* :func:`_answer_scans` gives each seed an array with the signs and finiteness of ``f(grid, *args)``, ``f``'s own
  values where it evaluated, on real scans and on adversarial ones (F <= 0 and non-finite inside the grid).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool.analysis.evaluate import residual
from convtool.numeric import roots
from convtool.numeric.certificate import Unsupported
from convtool.numeric.float_enclosure import float_path_enclosure
from convtool.numeric.stacked_eval import stacked_function

F88, NAMES88 = residual("eta0_2")  # (eta0, K, L0, alpha1, alpha2, beta2, c, d, mu)


def _args88(draw_or_rng, rng=None):
    r = draw_or_rng
    K = 10 ** r.uniform(-2, 2)
    L0 = 10 ** r.uniform(-3, 3)
    alpha1 = 10 ** r.uniform(-2, 4)
    alpha2 = alpha1 * 10 ** r.uniform(0, 2)
    beta2 = 10 ** r.uniform(-2, 3)
    c = r.uniform(0.05, 1.5)
    d = r.uniform(1.01, 3.0)
    mu = 10 ** r.uniform(-3, 1)
    return [K, L0, alpha1, alpha2, beta2, c, d, mu]


def _check_contains(E, f, grid, args, blocks):
    """Every grid point's ``f`` value inside its block's enclosure (where the ends are finite); returns how many
    blocks had finite ends (so a test can insist that some did)."""
    lo = np.array([grid[a] for a, _ in blocks])
    hi = np.array([grid[b] for _, b in blocks])
    cols = [np.full(lo.size, v) for v in args]
    Flo, Fhi = E(lo, hi, *cols)
    with np.errstate(all="ignore"):
        F = np.asarray(f(grid, *args), dtype=float)
    finite = 0
    for (a, b), l, h in zip(blocks, Flo, Fhi):
        if np.isfinite(l) and np.isfinite(h):
            finite += 1
            seg = F[a: b + 1]
            assert np.isfinite(seg).all(), (args, a, b)
            assert (l <= seg).all() and (seg <= h).all(), (args, a, b, l, h, seg.min(), seg.max())
    return finite


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(2, 40))
def test_enclosure_holds_eq88_F(rnd, nblocks):
    E = float_path_enclosure(F88)
    args = _args88(rnd)
    lo = 10 ** rnd.uniform(-100, -5)
    hi = min(lo * 10 ** rnd.uniform(0.5, 60), 10.0)
    grid = roots._log_grid(lo, hi)
    cuts = sorted({0, grid.size - 1, *[rnd.randrange(grid.size) for _ in range(nblocks)]})
    blocks = [(a, b) for a, b in zip(cuts[:-1], cuts[1:])] + [(i, i) for i in cuts]
    assert _check_contains(E, F88, grid, args, blocks) > 0


SOURCES = [
    # negative inputs and literals, a quotient, logs, cancellation
    ("def f(x, a, b):\n    y0 = x**a\n    y1 = b - exp(y0)\n    return y1*expm1(-x)/(a + x) + log1p(x*b*b) - sqrt(x)*(-3)\n",
     lambda rng: [rng.uniform(0.1, 3.0), rng.uniform(-5, 5)]),
    ("def f(x, a, b):\n    y0 = a*x - b*x\n    return (y0 - x*(a - b))*1e300 + x**2*log(x + 1) - 2.5*a*b\n",
     lambda rng: [rng.uniform(-3, 3), rng.uniform(-3, 3)]),
    ("def f(x, a):\n    return -(x - a)*(x + a)*exp(-x**3) + 1/(x - 7)\n",
     lambda rng: [rng.uniform(-2, 2)]),
]


@pytest.mark.parametrize("src,draw", SOURCES)
def test_enclosure_holds_on_hand_written_sources(src, draw):
    env = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt}
    exec(src, env)  # noqa: S102 - test source
    f = env["f"]
    E = float_path_enclosure(src)
    rng = np.random.default_rng(3)
    finite = 0
    for _ in range(40):
        args = draw(rng)
        grid = np.sort(rng.uniform(0, 10, size=200))
        cuts = sorted({0, 199, *rng.integers(0, 200, size=12).tolist()})
        blocks = list(zip(cuts[:-1], cuts[1:])) + [(i, i) for i in cuts]
        finite += _check_contains(E, f, grid, args, blocks)
    assert finite > 100


def test_enclosure_gives_nothing_below_zero():
    """The rules take the variable as non-negative: a block reaching below 0 gets NaN (x^2 - x is not monotone
    there), the others their enclosure."""
    E = float_path_enclosure("def f(x, a):\n    return a*x*x - x\n")
    lo, hi = E(np.array([-1.0, 0.5]), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert lo[1] <= 0.5 * 0.5 - 2.0 and hi[1] >= 2.0 * 2.0 - 0.5


def test_enclosure_refuses_what_it_cannot_follow():
    for src in ("def f(x, a):\n    return a**x\n", "def f(x, a):\n    return abs(x)\n",
                "def f(x, a):\n    if a:\n        return x\n    return a\n"):
        with pytest.raises(Unsupported):
            float_path_enclosure(src)


def _default_scans(R=12):
    from convtool.numeric.experiments import default_batch
    from convtool.numeric.theories.local_pl import _per_seed_constants
    from convtool.numeric.models import TwoLayerLinear

    b = default_batch(seeds=R, seed=2, h=60)
    m = TwoLayerLinear(b.W1, b.W2)
    seen = []
    orig = roots._answer_scans

    def capture(pending, advance):
        seen.extend(q for q in pending.values() if type(q) is roots.ScanQuery)
        orig(pending, advance)

    roots._answer_scans = capture
    try:
        _per_seed_constants(b.losses, m.W1_0, m.W2_0, 0.5, 2.0, None, m.reductions)
    finally:
        roots._answer_scans = orig
    return seen


def test_default_scans_certified_below_their_top():
    qs = _default_scans()
    assert len(qs) == 12
    todo = roots._certified_blocks(roots._scan_tools(F88)[0], qs)
    for q, t in zip(qs, todo):
        assert t.size < q.grid.size // 10  # the enclosure is tight enough to skip most points
        assert q.grid.size - 1 in t  # the top point is always evaluated


def _compare(qs, answers):
    for q, a in zip(qs, answers):
        with np.errstate(all="ignore"):
            F = np.asarray(q.f(q.grid, *q.args), dtype=float)
        assert a.shape == F.shape
        assert np.array_equal(np.isfinite(a), np.isfinite(F))
        assert np.array_equal(a > 0, F > 0)
        assert np.array_equal(a <= 0, F <= 0)
        ev = a != 1.0  # evaluated points keep f's own value
        assert np.array_equal(a[ev], F[ev], equal_nan=True)


def _run_answer(qs):
    pending = dict(enumerate(qs))
    got = {}

    def advance(k, answer, throw=None):
        got[k] = throw if throw is not None else answer

    roots._answer_scans(pending, advance)
    assert not pending
    return [got[k] for k in range(len(qs))]


def test_answer_scans_same_signs_as_direct():
    qs = _default_scans()
    _compare(qs, _run_answer(qs))


def test_answer_scans_adversarial():
    """Scans where F <= 0 from some point on, F is non-finite inside the grid (exp overflow), F <= 0 at the
    bottom, and a scalar part that raises: each seed as f(grid) alone."""
    rng = np.random.default_rng(11)
    qs = []
    for i in range(16):
        args = _args88(rng)
        if i % 4 == 1:
            args[6] = 1.0 + 1e-9  # d close to 1: F <= 0 low in the grid
        if i % 4 == 2:
            args[5] = 1.0  # with eta0 up to 1e4: exp(eta0^c) overflows
        lo, hi = 1e-100 if i % 2 else 1e-30, [1e-3, 3.0, 1e4, 1e-8][i % 4]
        qs.append(roots.ScanQuery("eta0_2", roots._log_grid(lo, hi), tuple(args), F88))
    got = _run_answer(qs)
    _compare(qs, got)
    assert sum((a <= 0).any() for a in got) >= 2 and sum((~np.isfinite(a)).any() for a in got) >= 1
    # a scalar part that raises (a ZeroDivisionError of Python floats) is thrown into that seed's search
    src = "def g(x, a, b):\n    y = a/b\n    return x*y + x**2\n"
    env = {}
    exec(src, env)  # noqa: S102 - test source
    g = env["g"]
    qs2 = [roots.ScanQuery("g", np.linspace(0.1, 1, 50), (1.0, 0.0 if i == 2 else 2.0), g) for i in range(6)]
    roots._scan_tools.cache_clear()
    try:
        got2 = _run_answer(qs2)
    finally:
        roots._scan_tools.cache_clear()
    assert isinstance(got2[2], ZeroDivisionError)
    _compare([q for i, q in enumerate(qs2) if i != 2], [a for i, a in enumerate(got2) if i != 2])


def test_stacked_bit_for_bit_rows_and_offsets():
    S = stacked_function(F88)
    rng = np.random.default_rng(5)
    for trial in range(6):
        R = int(rng.integers(1, 9))
        lens = rng.integers(1, 300, size=R)
        lens[0] = 1 + trial  # very short rows (SIMD remainders)
        M = int(lens.max())
        X = np.empty((R, M))
        rows, argsl = [], []
        c, d = rng.uniform(0.05, 1.5), rng.uniform(1.01, 3)
        for r in range(R):
            lo = 10 ** rng.uniform(-100, -2)
            row = np.sort(10 ** rng.uniform(np.log10(lo), 0, size=lens[r]))
            rows.append(row)
            X[r, : row.size] = row
            X[r, row.size:] = row[-1]
            a = _args88(rng)
            a[5], a[6] = c, d  # the exponents: one Python float for every row
            argsl.append(a)
        with np.errstate(all="ignore"):
            V = S(X, argsl)
            for r in range(R):
                assert np.array_equal(V[r, : rows[r].size], F88(rows[r], *argsl[r]), equal_nan=True)
                # and a row evaluated from an offset inside a longer array
                assert np.array_equal(V[r, 1: rows[r].size], F88(rows[r][1:], *argsl[r]), equal_nan=True)


def test_stacked_declines():
    S = stacked_function(F88)
    X = np.full((2, 3), 1e-3)
    a = _args88(np.random.default_rng(0))
    b = list(a)
    b[5] = a[5] + 0.25  # another exponent c
    assert S(X, [a, b]) is None
    src = "def g(x, a, b):\n    y = a/b\n    return x*y\n"
    assert stacked_function(src)(np.ones((2, 2)), [(1.0, 2.0), (1.0, 0.0)]) is None
    assert np.array_equal(stacked_function(src)(np.ones((2, 2)), [(1.0, 2.0), (3.0, 4.0)]),
                          np.array([[0.5, 0.5], [0.75, 0.75]]))
