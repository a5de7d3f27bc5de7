"""Tests of convtool.numeric.init and convtool.numeric.generators: schemes, statistics, reproducibility.

Statistical checks compare a sample standard deviation s of N i.i.d. N(0, sd^2)
entries with sd; s has standard error about sd / sqrt(2 N), and the tolerance is
five of those, so a correct implementation fails with probability < 1e-6 (the
seeds are fixed anyway, so the tests are deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool.errors import InputError
from convtool.numeric.data import build_instance
from convtool.numeric.generators import GENERATORS, fig1, fig3, fig4, random_orthogonal
from convtool.numeric.init import INIT_SCHEMES, init_std, init_weights


def one_line_error(fn, match, *args, **kwargs) -> str:
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


def assert_std(sample: np.ndarray, sd: float, sigmas: float = 5.0) -> None:
    """Entries of ``sample`` look i.i.d. N(0, sd^2): std within 5 standard errors, mean too."""
    N = sample.size
    s = float(np.std(sample))
    tol = sigmas * sd / math.sqrt(2 * N)
    assert abs(s - sd) <= tol, f"sample std {s} vs {sd} (tolerance {tol}, N = {N})"
    mean_tol = sigmas * sd / math.sqrt(N)
    assert abs(float(np.mean(sample))) <= mean_tol


def assert_orthogonal(Q: np.ndarray) -> None:
    n = Q.shape[0]
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), rtol=0, atol=1e-12)
    np.testing.assert_allclose(Q @ Q.T, np.eye(n), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- init schemes

H = 20000  # large width: n * H = 200000 entries per layer, a 5-sigma band of about 0.8 %


@pytest.mark.parametrize("scheme, kwargs, sd1, sd2", [
    ("gaussian", {}, 1.0, 1.0),
    ("gaussian", {"std": 0.3}, 0.3, 0.3),
    ("gaussian", {"p": 0.375}, H ** -0.375, H ** -0.375),
    ("xavier", {}, math.sqrt(2 / (10 + H)), math.sqrt(2 / (H + 7))),
    ("he", {}, math.sqrt(2 / 10), math.sqrt(2 / H)),
], ids=["gaussian-default", "gaussian-std", "gaussian-p", "xavier", "he"])
def test_init_statistics(scheme, kwargs, sd1, sd2):
    n, m = 10, 7
    W1, W2 = init_weights(n, m, H, scheme, seed=123, **kwargs)
    assert W1.shape == (n, H) and W2.shape == (m, H)
    assert W1.dtype == W2.dtype == np.float64
    assert init_std(n, m, H, scheme, **kwargs) == pytest.approx((sd1, sd2), rel=1e-15)
    assert_std(W1, sd1)
    assert_std(W2, sd2)


def test_init_schemes_listed():
    assert INIT_SCHEMES == ("gaussian", "xavier", "he")


def test_init_reproducible():
    a = init_weights(3, 4, 50, "he", seed=7)
    b = init_weights(3, 4, 50, "he", seed=7)
    c = init_weights(3, 4, 50, "he", seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    # W1 is drawn before W2 from one stream
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(a[0], rng.standard_normal((3, 50)) * math.sqrt(2 / 3))
    np.testing.assert_array_equal(a[1], rng.standard_normal((4, 50)) * math.sqrt(2 / 50))


@pytest.mark.parametrize("args, kwargs, match", [
    ((3, 3, 5, "uniform"), {}, "unknown init scheme 'uniform'; choose one of gaussian, xavier, he"),
    ((3, 3, 5), {"std": 1.0, "p": 0.3}, "give either std or p for the gaussian init, not both"),
    ((3, 3, 5), {"std": 0.0}, "std must be a positive finite number, got 0.0"),
    ((3, 3, 5), {"std": -1.0}, "std must be a positive finite number"),
    ((3, 3, 5), {"std": float("inf")}, "std must be a positive finite number"),
    ((3, 3, 5), {"std": float("nan")}, "std must be a positive finite number"),
    ((3, 3, 5), {"std": "big"}, "std must be a positive finite number"),
    ((3, 3, 5), {"p": 0.0}, "p must be a positive finite number"),
    ((3, 3, 5), {"p": float("nan")}, "p must be a positive finite number"),
    ((3, 3, 5, "xavier"), {"std": 1.0}, "std applies only to the gaussian init, not to 'xavier'"),
    ((3, 3, 5, "he"), {"p": 0.3}, "p applies only to the gaussian init, not to 'he'"),
    ((3, 3, 0), {}, "width h must be a positive integer, got 0"),
    ((3, 3, 2.0), {}, "width h must be a positive integer, got 2.0"),
    ((0, 3, 5), {}, "n must be a positive integer"),
    ((3, 3, 5), {"seed": -1}, "seed must be a non-negative integer or None, got -1"),
    ((3, 3, 5), {"seed": 1.5}, "seed must be a non-negative integer or None"),
])
def test_init_errors(args, kwargs, match):
    one_line_error(init_weights, match, *args, **kwargs)


# ---------------------------------------------------------------- random orthogonal matrices


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_random_orthogonal_property(n, seed):
    assert_orthogonal(random_orthogonal(n, np.random.default_rng(seed)))


def test_random_orthogonal_is_haar_not_lapack_biased():
    """Under Haar measure E[Q_ij] = 0. Without the sign fix numpy's QR makes Q[0, 0] <= 0 always."""
    rng = np.random.default_rng(0)
    draws = np.array([random_orthogonal(3, rng) for _ in range(2000)])
    # Var(Q_ij) = 1/3, so the mean of 2000 draws has standard error 0.0129
    assert np.all(np.abs(draws.mean(axis=0)) < 5 * math.sqrt(1 / 3 / 2000))
    assert 0.35 < np.mean(draws[:, 0, 0] > 0) < 0.65


# ---------------------------------------------------------------- experiment generators

SMALL = {"fig1": {"n": 6, "h": 12}, "fig3": {"n": 6, "h": 12}, "fig4": {"n": 5, "h": 12}}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_reproducible_and_shapes(name):
    gen = GENERATORS[name]
    a, b, c = gen(seed=1, **SMALL[name]), gen(seed=1, **SMALL[name]), gen(seed=2, **SMALL[name])
    n, h = SMALL[name]["n"], SMALL[name]["h"]
    assert set(a) == {"X", "Y", "W1", "W2"}
    assert a["X"].shape == a["Y"].shape == (n, n)
    assert a["W1"].shape == a["W2"].shape == (n, h)
    for k in a:
        assert a[k].dtype == np.float64
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])
    inst = build_instance(a)  # a valid Problem 2 instance
    assert inst.loss.mu > 0


def test_generator_defaults_follow_the_paper():
    a = fig1()
    assert a["X"].shape == (10, 10) and a["W1"].shape == (10, 500)
    b = fig3()
    assert b["X"].shape == (10, 10) and b["W1"].shape == (10, 1000)
    c = fig4()
    assert c["X"].shape == (5, 5) and c["W1"].shape == (5, 1000)


@pytest.mark.parametrize("name", ["fig1", "fig3"])
def test_X_orthogonal(name):
    for seed in range(5):
        assert_orthogonal(GENERATORS[name](seed=seed, h=3)["X"])


def test_fig1_residual_is_sigma_squared_eps():
    X, W1, W2 = (fig1(n=8, h=20, sigma=0.0, seed=4)[k] for k in ("X", "W1", "W2"))
    Y0 = fig1(n=8, h=20, sigma=0.0, seed=4)["Y"]
    assert np.array_equal(Y0 - X @ (W1 @ W2.T), np.zeros((8, 8)))  # exactly zero without noise
    # eps is drawn last, so X, W1, W2 do not depend on sigma and Y - Y0 = sigma^2 eps
    eps = fig1(n=8, h=20, sigma=1.0, seed=4)["Y"] - Y0
    for sigma in (0.5, 2.0, 3.0):
        a = fig1(n=8, h=20, sigma=sigma, seed=4)
        np.testing.assert_array_equal(a["W1"], W1)
        np.testing.assert_allclose(a["Y"] - Y0, sigma**2 * eps, rtol=1e-12, atol=1e-12 * sigma**2)
    # and eps is standard normal (n = 150: 22500 entries)
    big = fig1(n=150, h=1, sigma=1.0, seed=0)
    assert_std(big["Y"] - big["X"] @ (big["W1"] @ big["W2"].T), 1.0)


def test_fig1_weights_standard_normal():
    a = fig1(n=10, h=H, sigma=0.0, seed=3)
    assert_std(a["W1"], 1.0)
    assert_std(a["W2"], 1.0)


@pytest.mark.parametrize("p", [0.275, 0.375, 0.475])
def test_fig3_weight_scale(p):
    a = fig3(p=p, h=H, n=10, seed=0)
    assert_std(a["W1"], H ** -p)
    assert_std(a["W2"], H ** -p)


def test_fig3_data_variance_and_independence_of_width():
    a = fig3(n=120, h=1, seed=0)
    # X orthogonal, so X^T Y = Theta + X^T noise with i.i.d. N(0, 0.1 + 0.1) entries
    assert_std(a["X"].T @ a["Y"], math.sqrt(0.2))
    b, c = fig3(h=50, p=0.3, seed=9), fig3(h=70, p=0.45, seed=9)
    np.testing.assert_array_equal(b["X"], c["X"])
    np.testing.assert_array_equal(b["Y"], c["Y"])


def test_fig4_singular_values_in_range():
    for seed in range(10):
        s = np.linalg.svd(fig4(h=5, seed=seed)["X"], compute_uv=False)
        assert np.all(s >= 1.8 - 1e-12) and np.all(s <= 2.3 + 1e-12), s
    s = np.linalg.svd(fig4(n=400, h=1, seed=0)["X"], compute_uv=False)
    # uniform on [1.8, 2.3]: mean 2.05, std 0.5/sqrt(12); 400 draws fill the range
    assert s.min() < 1.81 and s.max() > 2.29
    assert abs(s.mean() - 2.05) < 5 * (0.5 / math.sqrt(12)) / math.sqrt(400)


def test_fig4_weights_and_noise():
    a = fig4(h=H, n=5, seed=1)
    assert_std(a["W1"], 1 / math.sqrt(H))
    assert_std(a["W2"], 1 / math.sqrt(H))
    b = fig4(h=2, n=150, seed=1)
    assert_std(b["Y"] - b["X"] @ (b["W1"] @ b["W2"].T), math.sqrt(0.1))
    np.testing.assert_array_equal(fig4(h=3, seed=5)["X"], fig4(h=40, seed=5)["X"])


@pytest.mark.parametrize("fn, kwargs, match", [
    (fig1, {"h": 0}, "width h must be a positive integer, got 0"),
    (fig1, {"h": 10.0}, "width h must be a positive integer"),
    (fig1, {"h": True}, "width h must be a positive integer"),
    (fig1, {"n": 0}, "n must be a positive integer"),
    (fig1, {"sigma": float("nan")}, "sigma must be a finite number"),
    (fig1, {"sigma": float("inf")}, "sigma must be a finite number"),
    (fig1, {"sigma": -1.0}, "sigma must be >= 0"),
    (fig1, {"seed": -5}, "seed must be a non-negative integer"),
    (fig3, {"p": 0.0}, "p must be > 0"),
    (fig3, {"p": -0.3}, "p must be > 0"),
    (fig3, {"p": float("nan")}, "p must be a finite number"),
    (fig3, {"h": -1}, "width h must be a positive integer"),
    (fig4, {"h": 0}, "width h must be a positive integer"),
    (fig4, {"n": 2.5}, "n must be a positive integer"),
])
def test_generator_parameter_errors(fn, kwargs, match):
    one_line_error(fn, match, **kwargs)


def test_fig3_accepts_p_outside_theorem_range():
    assert fig3(p=0.9, h=4, n=3)["W1"].shape == (3, 4)
