"""Random initial weights ``W1 (n x h)``, ``W2 (m x h)`` of the two-layer model ``W1 W2^T``.

The two-layer linear model maps ``x in R^n`` to ``W2 W1^T x in R^m``: ``W1`` is
the first layer ``R^n -> R^h`` (fan-in n, fan-out h) and ``W2`` the second
``R^h -> R^m`` (fan-in h, fan-out m). Every scheme draws i.i.d. centred
Gaussian entries; only the standard deviation of each layer differs:

==========  =========================================  ===========================
scheme      std of W1                                  std of W2
==========  =========================================  ===========================
gaussian    ``std`` (default 1), or ``h^-p``           same as W1
xavier      ``sqrt(2 / (n + h))``                      ``sqrt(2 / (h + m))``
he          ``sqrt(2 / n)``                            ``sqrt(2 / h)``
==========  =========================================  ===========================

Draw order (reproducible from ``seed``): one ``np.random.default_rng(seed)``
draws W1 (``standard_normal((n, h))``) first, then W2 (``standard_normal((m, h))``);
each is scaled by its std.

References
----------
.. [LocalPL] Local-PL paper, Theorem 3.3 (init N(0, h^(-2p)), 1/4 < p < 1/2) and
   Lemma 3.1 / F.2 (Gaussian, Xavier and He inits give alpha_1 > 0);
   shared/papers/local-pl-two-layer-linear.txt.
.. [Glorot2010] X. Glorot and Y. Bengio, "Understanding the difficulty of training
   deep feedforward neural networks", AISTATS 2010 (variance 2 / (fan_in + fan_out);
   the normal variant is used here, as in Keras ``glorot_normal`` without truncation
   and PyTorch ``xavier_normal_``).
.. [He2015] K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers",
   ICCV 2015 (variance 2 / fan_in; PyTorch ``kaiming_normal_``, mode ``fan_in``).

Examples
--------
>>> W1, W2 = init_weights(3, 2, 50, "xavier", seed=0)
>>> W1.shape, W2.shape
((3, 50), (2, 50))
>>> init_std(3, 2, 100, "gaussian", p=0.5)
(0.1, 0.1)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from convtool.errors import InputError

__all__ = ["INIT_SCHEMES", "init_std", "init_weights", "make_rng", "draw_weights"]

#: names of the initialization schemes, in the order the CLI lists them
INIT_SCHEMES = ("gaussian", "xavier", "he")


def _positive_int(value, name: str) -> int:
    """``value`` as a positive int (no floats, no bools); InputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    value = int(value)
    if value < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return value


def _positive_float(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive finite number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return x


def make_rng(seed) -> np.random.Generator:
    """``np.random.default_rng(seed)``, with an InputError for an invalid seed (negative, non-integer)."""
    if isinstance(seed, (float, bool)):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}") from exc


def init_std(n: int, m: int, h: int, scheme: str = "gaussian", *, std: float | None = None,
             p: float | None = None) -> tuple[float, float]:
    """Standard deviations ``(std of W1, std of W2)`` of the entries under ``scheme``.

    Parameters
    ----------
    n, m, h : int
        Input dimension, output dimension and width (all >= 1).
    scheme : {"gaussian", "xavier", "he"}
        See the module docstring for the formulas and references.
    std, p : float, optional
        Only for ``"gaussian"``, and at most one of them: ``std`` directly, or
        ``std = h^(-p)`` (Theorem 3.3's ``N(0, h^(-2p))``; the theorem assumes
        1/4 < p < 1/2, any p > 0 is accepted). Neither gives std = 1.

    Returns
    -------
    (float, float)

    Raises
    ------
    InputError
        Unknown scheme, both ``std`` and ``p``, ``std``/``p`` with a scheme that
        fixes its own scale, non-positive or non-finite ``std``/``p``, bad sizes.

    Examples
    --------
    >>> init_std(10, 10, 1000, "he")
    (0.4472135954999579, 0.044721359549995794)
    """
    n, m, h = _positive_int(n, "n"), _positive_int(m, "m"), _positive_int(h, "width h")
    if scheme not in INIT_SCHEMES:
        raise InputError(f"unknown init scheme {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    if scheme != "gaussian":
        if std is not None or p is not None:
            given = "std" if std is not None else "p"
            raise InputError(f"{given} applies only to the gaussian init, not to {scheme!r} "
                             f"(which fixes its own scale)")
        if scheme == "xavier":
            return math.sqrt(2.0 / (n + h)), math.sqrt(2.0 / (h + m))
        return math.sqrt(2.0 / n), math.sqrt(2.0 / h)
    if std is not None and p is not None:
        raise InputError("give either std or p for the gaussian init, not both")
    if p is not None:
        p = _positive_float(p, "p")
        s = float(h) ** (-p)
        if not s > 0:  # h^-p underflowed
            raise InputError(f"std = h^-p underflows to 0 for h={h}, p={p}")
        return s, s
    s = 1.0 if std is None else _positive_float(std, "std")
    return s, s


def draw_weights(rng: np.random.Generator, n: int, m: int, h: int, scheme: str = "gaussian", *,
                 std: float | None = None, p: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`init_weights` but drawing from an existing generator ``rng`` (W1 first, then W2).

    The experiment generators use it to draw data and weights from one stream.
    """
    s1, s2 = init_std(n, m, h, scheme, std=std, p=p)
    from convtool.limits import check_bytes

    # the weights, the width reduction's QR of [W1; W2]^T and the run's initial and final copies
    check_bytes(4 * 8 * (int(n) + int(m)) * int(h), f"weights of width h = {int(h)} (n = {int(n)}, m = {int(m)})",
                "lower the width")
    W1 = rng.standard_normal((int(n), int(h))) * s1
    W2 = rng.standard_normal((int(m), int(h))) * s2
    return W1, W2


def init_weights(n: int, m: int, h: int, scheme: str = "gaussian", *, std: float | None = None,
                 p: float | None = None, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Random initial weights ``W1 (n x h)`` and ``W2 (m x h)``, float64, i.i.d. centred Gaussian.

    Parameters
    ----------
    n, m, h : int
        Input dimension, output dimension, width.
    scheme : {"gaussian", "xavier", "he"}
        ``gaussian``: N(0, std^2) for both layers, ``std`` given, or
        ``std = h^(-p)`` from ``p`` (Theorem 3.3 of [LocalPL]_, N(0, h^(-2p))),
        default std = 1. ``xavier`` (Glorot normal, [Glorot2010]_): W1 as the layer
        R^n -> R^h has std ``sqrt(2/(n+h))``, W2 as R^h -> R^m has std
        ``sqrt(2/(h+m))``. ``he`` (He normal, [He2015]_): std ``sqrt(2/fan_in)``,
        i.e. ``sqrt(2/n)`` for W1 and ``sqrt(2/h)`` for W2.
    std, p : float, optional
        Scale of the ``gaussian`` scheme (at most one of them).
    seed : int or None or numpy Generator
        Passed to ``np.random.default_rng``; W1 is drawn first, then W2.

    Returns
    -------
    W1 : ndarray, shape (n, h)
    W2 : ndarray, shape (m, h)

    Raises
    ------
    InputError
        See :func:`init_std`; also an invalid seed.

    Examples
    --------
    >>> W1, W2 = init_weights(4, 3, 20, "gaussian", p=0.375, seed=1)
    >>> W1.shape, W2.shape, W1.dtype
    ((4, 20), (3, 20), dtype('float64'))
    >>> bool(np.array_equal(W1, init_weights(4, 3, 20, p=0.375, seed=1)[0]))
    True
    """
    init_std(n, m, h, scheme, std=std, p=p)  # validate the settings before the seed
    return draw_weights(make_rng(seed), n, m, h, scheme, std=std, p=p)
