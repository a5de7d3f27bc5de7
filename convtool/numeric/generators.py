"""The experiment instances of the local-PL paper (Section 4 and Appendix G).

Each generator returns a dict of float64 arrays ``X, Y, W1, W2`` for the squared
loss ``1/2 ||Y - X W1 W2^T||_F^2`` (Problem 2), reproducible from ``seed``: one
``np.random.default_rng(seed)`` draws everything, in the order stated in each
docstring. The data matrices are drawn before the weights where the data do not
depend on them, so for a fixed seed, changing ``h`` changes the weights but not ``X``
(and, in Fig. 3, not ``Y``).

The paper writes ``N(0, v)`` with ``v`` the *variance* (Theorem 3.3's
``N(0, 1/h^(2p))`` only makes sense that way); every ``N(0, 0.1)`` here is read
the same way, i.e. standard deviation ``sqrt(0.1)``.

Random orthogonal matrices (:func:`random_orthogonal`) are Haar distributed: the
Q factor of a Gaussian matrix with the signs of R's diagonal moved into Q
(Mezzadri 2007); without the sign fix LAPACK's convention biases the distribution.

References
----------
.. [LocalPL] Local-PL paper, Section 4 (Figs. 1 and 2), Appendix G.1 (Fig. 3) and
   G.2 (Fig. 4); shared/papers/local-pl-two-layer-linear.txt.
.. [Mezzadri2007] F. Mezzadri, "How to generate random matrices from the classical
   compact groups", Notices of the AMS 54(5), 2007.

Examples
--------
>>> sorted(GENERATORS)
['fig1', 'fig3', 'fig4']
>>> {k: v.shape for k, v in fig4(h=20, seed=3).items()}
{'X': (5, 5), 'Y': (5, 5), 'W1': (5, 20), 'W2': (5, 20)}
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from convtool.errors import InputError
from convtool.numeric.init import draw_weights, make_rng

__all__ = ["fig1", "fig3", "fig4", "GENERATORS", "random_orthogonal", "zhao_xu", "DLN_GENERATORS", "du_hu_lee_fig2",
           "MLP_GENERATORS"]

#: variance of Theta and of the additive noise in Figs. 3 and 4 ("N(0, 0.1)")
NOISE_VAR = 0.1
#: range of the singular values of X in Fig. 4
FIG4_SV_RANGE = (1.8, 2.3)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _finite(value, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if positive and x <= 0:
        raise InputError(f"{name} must be > 0, got {value!r}")
    if nonnegative and x < 0:
        raise InputError(f"{name} must be >= 0, got {value!r}")
    return x


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal n x n matrix (draws one ``standard_normal((n, n))``).

    QR of a Gaussian matrix with ``Q <- Q diag(sign(diag R))`` [Mezzadri2007]_.

    Examples
    --------
    >>> Q = random_orthogonal(4, np.random.default_rng(0))
    >>> bool(np.allclose(Q.T @ Q, np.eye(4), atol=1e-14))
    True
    """
    Z = rng.standard_normal((n, n))
    Q, R = np.linalg.qr(Z)
    d = np.sign(np.diag(R))
    d[d == 0] = 1.0  # probability 0; keeps Q orthogonal regardless
    return Q * d


def fig1(n: int = 10, h: int = 500, sigma: float = 1.0, seed=0) -> dict:
    """Fig. 1 / Fig. 2 instance (Section 4): orthogonal X, N(0, 1) weights, ``Y = X W1 W2^T + sigma^2 eps``.

    Parameters
    ----------
    n : int
        Input and output dimension (the paper uses 10); X, Y are n x n.
    h : int
        Width (the paper uses 500, 1000, 4000).
    sigma : float
        Noise level; the noise is ``sigma^2 eps`` as in the paper (>= 0).
    seed : int or None
        Seed of the one generator.

    Returns
    -------
    dict
        ``X`` (n x n, Haar orthogonal), ``W1``, ``W2`` (n x h, i.i.d. N(0, 1)),
        ``Y = X (W1 W2^T) + sigma^2 eps`` with eps (n x n) i.i.d. N(0, 1).

    Notes
    -----
    Draw order: X (:func:`random_orthogonal`), W1, W2, eps. The paper prints
    ``X W1(0) W2(0)`` with W2 in R^{10 x h}; the product of Problem 2 is
    ``W1 W2^T``, which is used here. With ``sigma = 0``, ``Y - X @ (W1 @ W2.T)``
    is exactly zero.

    Examples
    --------
    >>> a = fig1(n=3, h=8, sigma=0.0, seed=1)
    >>> bool(np.array_equal(a["Y"], a["X"] @ (a["W1"] @ a["W2"].T)))
    True
    """
    n, h = _positive_int(n, "n"), _positive_int(h, "width h")
    sigma = _finite(sigma, "sigma", nonnegative=True)
    rng = make_rng(seed)
    X = random_orthogonal(n, rng)
    W1, W2 = draw_weights(rng, n, n, h, "gaussian", std=1.0)
    eps = rng.standard_normal((n, n))
    noise = float(np.float64(sigma) ** 2) if sigma < 1e150 else math.inf
    if not math.isfinite(noise):
        raise InputError(f"sigma = {sigma:g}: the noise sigma^2 eps overflows float64 (sigma must stay below 1e150)")
    Y = X @ (W1 @ W2.T) + noise * eps
    return {"X": X, "Y": Y, "W1": W1, "W2": W2}


def fig3(p: float = 0.375, h: int = 1000, n: int = 10, seed=0) -> dict:
    """Fig. 3 instance (Appendix G.1): ``Y = X Theta + noise``, weights N(0, h^(-2p)) (Theorem 3.3).

    Parameters
    ----------
    p : float
        Init exponent, std of the weights ``h^-p`` (> 0; the paper uses 0.275,
        0.375, 0.475, and Theorem 3.3 assumes 1/4 < p < 1/2).
    h : int
        Width (the paper sweeps 500 to 2000).
    n : int
        Dimension (the paper uses 10); X, Y, Theta are n x n.
    seed : int or None

    Returns
    -------
    dict
        ``X`` (Haar orthogonal), ``Y = X Theta + noise`` with Theta and noise i.i.d.
        N(0, 0.1) (variance 0.1), ``W1``, ``W2`` (n x h) i.i.d. N(0, h^(-2p)).

    Notes
    -----
    Draw order: X, Theta, noise, W1, W2; so X and Y do not depend on ``h`` or ``p``.

    Examples
    --------
    >>> a, b = fig3(h=50, seed=2), fig3(h=80, p=0.475, seed=2)
    >>> bool(np.array_equal(a["Y"], b["Y"])), b["W1"].shape
    (True, (10, 80))
    """
    p = _finite(p, "p", positive=True)
    n, h = _positive_int(n, "n"), _positive_int(h, "width h")
    rng = make_rng(seed)
    X = random_orthogonal(n, rng)
    Theta = rng.standard_normal((n, n)) * math.sqrt(NOISE_VAR)
    noise = rng.standard_normal((n, n)) * math.sqrt(NOISE_VAR)
    Y = X @ Theta + noise
    W1, W2 = draw_weights(rng, n, n, h, "gaussian", p=p)
    return {"X": X, "Y": Y, "W1": W1, "W2": W2}


def fig4(h: int = 1000, n: int = 5, seed=0) -> dict:
    """Fig. 4 instance (Appendix G.2): ``X = U Sigma V`` with singular values in [1.8, 2.3], N(0, 1/h) weights.

    Parameters
    ----------
    h : int
        Width.
    n : int
        Dimension (the paper uses 5); X, Y are n x n, W1, W2 are n x h.
    seed : int or None

    Returns
    -------
    dict
        ``X = U diag(s) V`` (U, V Haar orthogonal, s i.i.d. uniform on [1.8, 2.3]),
        ``W1``, ``W2`` i.i.d. N(0, 1/h), ``Y = X (W1 W2^T) + noise`` with noise
        i.i.d. N(0, 0.1) (variance 0.1).

    Notes
    -----
    Draw order: U, s, V, W1, W2, noise; so X does not depend on ``h``.

    Examples
    --------
    >>> a = fig4(h=30, seed=0)
    >>> s = np.linalg.svd(a["X"], compute_uv=False)
    >>> bool(1.8 <= s.min() and s.max() <= 2.3)
    True
    """
    n, h = _positive_int(n, "n"), _positive_int(h, "width h")
    rng = make_rng(seed)
    U = random_orthogonal(n, rng)
    s = rng.uniform(*FIG4_SV_RANGE, size=n)
    V = random_orthogonal(n, rng)
    X = (U * s) @ V
    W1, W2 = draw_weights(rng, n, n, h, "gaussian", std=1.0 / math.sqrt(h))
    noise = rng.standard_normal((n, n)) * math.sqrt(NOISE_VAR)
    Y = X @ (W1 @ W2.T) + noise
    return {"X": X, "Y": Y, "W1": W1, "W2": W2}


#: name -> generator; each returns ``{"X", "Y", "W1", "W2"}`` for the squared loss
GENERATORS = {"fig1": fig1, "fig3": fig3, "fig4": fig4}


def zhao_xu(d: int = 128, M: int = 1000, k: int = 10, sigma: float = 1.0, seed=0) -> dict:
    """Appendix G instance of Zhao & Xu (TMLR 2024): ``Y = W* X + eps`` with X, W*, eps i.i.d. N(0, 1).

    Parameters
    ----------
    d, M, k : int
        Input dimension n_0 (128), samples m (1000), output dimension n_N (10), as printed in Appendix G.
    sigma : float
        Standard deviation of the noise eps (the paper: 1).
    seed : int or None

    Returns
    -------
    dict
        ``X`` (M x d) and ``Y`` (M x k), samples as rows: the paper's column-sample X (d x M) and
        W* X + eps (k x M), transposed. No weights: the network's widths, depth and init are options
        (Appendix G: N = 3, equal hidden widths, Gaussian or one-peak orthogonal init, step
        eta = n_N/(N ||X||^2), 25 iterations).

    Notes
    -----
    Draw order: X (d x M, paper layout), then W* (k x d), then eps (k x M), from ``default_rng(seed)``;
    with seed 0 this gives beta = ||X||_2^2 = 1811.5 (the reading notes' reproduction numbers).

    Examples
    --------
    >>> a = zhao_xu(d=6, M=40, k=2, seed=0)
    >>> a["X"].shape, a["Y"].shape
    ((40, 6), (40, 2))
    """
    d, M, k = _positive_int(d, "d"), _positive_int(M, "M"), _positive_int(k, "k")
    sigma = _finite(sigma, "sigma", nonnegative=True)
    rng = make_rng(seed)
    Xp = rng.standard_normal((d, M))
    Wgen = rng.standard_normal((k, d))
    eps = rng.standard_normal((k, M))
    return {"X": Xp.T.copy(), "Y": (Wgen @ Xp + sigma * eps).T.copy()}


def song_et_al(d: int = 10, M: int = 50, k: int = 1, h: int = 50, seed=0) -> dict:
    """A small teacher-student instance for Song et al.'s shallow network (NeurIPS 2021, arXiv:2111.01875).

    Section 6 relabels MNIST with a trained two-layer teacher (He init) and fits a GeLU student; MNIST is not
    available offline, so this draws the data: unit-norm samples ``x_i`` (Gaussian directions, Assumption 2)
    and labels from a random two-layer GeLU teacher with He init, ``y_i = V* gelu(W* x_i)``, scaled so that
    ``||Y||_F = 1`` (Assumption 2). No student weights: ``--width``, ``--omega1/--omega2`` or ``--init``.

    Parameters
    ----------
    d, M, k : int
        Input dimension d0 (10), samples n (50), outputs d2 (1).
    h : int
        Teacher hidden width (50).

    Notes
    -----
    Draw order from ``default_rng(seed)``: X (M x d), W* (h x d) ~ N(0, 2/d), V* (k x h) ~ N(0, 2/h).

    Examples
    --------
    >>> a = song_et_al(d=4, M=20, k=2, seed=0)
    >>> a["X"].shape, a["Y"].shape, round(float(np.linalg.norm(a["Y"])), 12)
    ((20, 4), (20, 2), 1.0)
    """
    from scipy.special import ndtr

    d, M, k, h = (_positive_int(v, name) for v, name in ((d, "d"), (M, "M"), (k, "k"), (h, "h")))
    rng = make_rng(seed)
    X = rng.standard_normal((M, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Ws = rng.standard_normal((h, d)) * np.sqrt(2.0 / d)
    Vs = rng.standard_normal((k, h)) * np.sqrt(2.0 / h)
    P = X @ Ws.T
    Y = (P * ndtr(P)) @ Vs.T
    nrm = float(np.linalg.norm(Y))
    if not nrm > 0:
        raise ValueError("the teacher's labels are all zero; change --seed")
    return {"X": X, "Y": Y / nrm}


#: generators of deep-linear instances (data only; ``convtool generate zhao-xu``) and of the shallow network
DLN_GENERATORS = {"zhao-xu": zhao_xu, "song-et-al": song_et_al}


def zou_long_gu(d: int = 10, M: int = 1000, sigma: float = 0.1, seed=0) -> dict:
    """Section 5 instance of Zou, Long & Gu (ICLR 2020): ``Y = -X + sigma E`` with X, E i.i.d. N(0, 1).

    Parameters
    ----------
    d, M : int
        Dimension d = k (10) and number of samples n (1000), as printed in Section 5.
    sigma : float
        Noise scale (the paper: 0.1).
    seed : int or None

    Returns
    -------
    dict
        ``X`` (M x d) and ``Y`` (M x d), samples as rows (the paper's columns, transposed). No transforms:
        ``--transform``, ``--hidden``, ``--depth`` choose them.

    Notes
    -----
    Draw order: X (d x M, paper layout), then E (d x M), from ``default_rng(seed)``; with seed 0 this gives
    ||X||_2 = 34.44, sigma_r = 29.03, L* = 48.9 (the reading notes' reproduction numbers).

    Examples
    --------
    >>> a = zou_long_gu(d=3, M=20, seed=0)
    >>> a["X"].shape, a["Y"].shape
    ((20, 3), (20, 3))
    """
    d, M = _positive_int(d, "d"), _positive_int(M, "M")
    sigma = _finite(sigma, "sigma", nonnegative=True)
    rng = make_rng(seed)
    Xp = rng.standard_normal((d, M))
    E = rng.standard_normal((d, M))
    return {"X": Xp.T.copy(), "Y": (-Xp + sigma * E).T.copy()}


#: generators of linear-ResNet instances (data only; ``convtool generate zou-long-gu``)
RESNET_GENERATORS = {"zou-long-gu": zou_long_gu}


def du_hu_lee_fig2(d: int = 1000, M: int = 1000, k: int = 10, h: int = 100, variant: str = "balanced",
                   seed=0) -> dict:
    """Section 4 (Fig. 2) of Du, Hu & Lee (NeurIPS 2018): a 3-layer ReLU net ``W3 phi(W2 phi(W1 x))`` with
    ``W1`` (h x d), ``W2`` (h x h), ``W3`` (k x h), d = 1000, h = 100, k = 10, on M = 1000 samples.

    ``variant="balanced"``: entries ``N(0, 0.1 / (n_j n_{j-1}))``, so ``E||W_j||_F^2 = 0.1`` for every layer;
    at the paper's sizes these are its variances ``1e-4/100, 1e-4/10, 1e-4``. ``"unbalanced"``: every entry
    ``N(0, 1e-4)`` as printed (initial ``E||W_j||_F^2`` = 10, 1, 0.1 at the paper's sizes). The second argument
    of N is the variance (notes item 18). The paper does not give the data: here X has i.i.d. ``N(0, 1/d)``
    entries (rows of norm about 1) and ``Y`` is the output of a teacher net of the same shape with He-scaled
    Gaussian weights (``N(0, 2/n_{j-1})``), so a zero-loss solution exists. Draw order: X, the teacher's
    three layers, then W1, W2, W3 (``default_rng(seed)``). Arrays: X (M, d), Y (M, k), W1, W2, W3.
    """
    if variant not in ("balanced", "unbalanced"):
        raise InputError(f"variant must be 'balanced' or 'unbalanced', got {variant!r}")
    for name, v in (("d", d), ("M", M), ("k", k), ("h", h)):
        if int(v) != v or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    d, M, k, h = int(d), int(M), int(k), int(h)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((M, d)) / np.sqrt(d)
    dims = (d, h, h, k)
    teacher = [rng.standard_normal((dims[j + 1], dims[j])) * np.sqrt(2.0 / dims[j]) for j in range(3)]
    A = X
    for j, T in enumerate(teacher):
        A = A @ T.T
        if j < 2:
            A = np.maximum(A, 0.0)
    var = [0.1 / (dims[j + 1] * dims[j]) for j in range(3)] if variant == "balanced" else [1e-4] * 3
    out = {"X": X, "Y": A}
    for j in range(3):
        out[f"W{j + 1}"] = np.sqrt(var[j]) * rng.standard_normal((dims[j + 1], dims[j]))
    return out


def du_hu_lee_mf(n: int = 10, m: int = 8, r: int = 3, rank: int | None = None, init_std: float = 1e-3,
                 seed=0) -> dict:
    """Matrix factorization ``1/2 ||U V^T - M*||_F^2`` of Du, Hu & Lee's Theorem 3.1 (NeurIPS 2018), for the
    two-layer model with ``--loss factorization``: the target ``Y = M* = U* V*^T / ||U* V*^T||_F`` (n x m, rank
    ``rank``, default r; ``||M*||_F = 1``) and a small init ``W1 = U0`` (n x r), ``W2 = V0`` (m x r) with i.i.d.
    ``N(0, init_std^2)`` entries, so that Appendix B.1's ``||U0||_F^2, ||V0||_F^2 <= eps`` holds for
    ``eps >= max(n, m) r init_std^2`` (about). Draw order: U*, V*, U0, V0 from ``default_rng(seed)``.

    Examples
    --------
    >>> a = du_hu_lee_mf(n=4, m=3, r=2, seed=0)
    >>> a["Y"].shape, a["W1"].shape, a["W2"].shape, round(float(np.linalg.norm(a["Y"])), 12)
    ((4, 3), (4, 2), (3, 2), 1.0)
    """
    n, m, r = _positive_int(n, "n"), _positive_int(m, "m"), _positive_int(r, "r")
    rank = r if rank is None else _positive_int(rank, "rank")
    if rank > min(n, m):
        raise InputError(f"rank {rank} exceeds min(n, m) = {min(n, m)}")
    init_std = _finite(init_std, "init_std", positive=True)
    rng = make_rng(seed)
    Us, Vs = rng.standard_normal((n, rank)), rng.standard_normal((m, rank))
    M = Us @ Vs.T
    return {"Y": M / np.linalg.norm(M), "W1": init_std * rng.standard_normal((n, r)),
            "W2": init_std * rng.standard_normal((m, r))}


#: mlp generators (Du, Hu & Lee), kept in step with convtool.cli.cmd_generate.MLP_GENERATOR_CHOICES by a test;
#: du-hu-lee-mf is the two-layer model's matrix factorization instance (--loss factorization)
MLP_GENERATORS = {"du-hu-lee-fig2": du_hu_lee_fig2, "du-hu-lee-mf": du_hu_lee_mf}
