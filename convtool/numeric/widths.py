"""Every width threshold convtool knows, for one data set and (optional) weights (``convtool widths``).

One :class:`WidthRow` per threshold: the paper, the result (theorem / lemma), the formula reference,
the value, its assumptions, whether it is explicit or holds only up to an unspecified absolute
constant C (with the C used), and whether the given width meets it (``"yes"``, ``"no"`` or ``"n/a"``
with the reason). :func:`width_table` builds them all from a :class:`WidthContext`.

Papers add their rows as one entry of :data:`WIDTH_ROWS`: a function ``(WidthContext) -> list[WidthRow]``,
registered with :func:`register_width_rows`. The values come from the paper's own code (the registry
and the ``compute_*`` functions), never from a second copy of a formula; the one exception is marked
through the registry's ``B_F5`` and ``alpha_ratio_bound`` (eq. (131) of the local-PL paper).

Rows (in order):

* ``local-pl`` (two-layer linear model ``l(W1 W2^T)``, width h, data X N x n, Y N x m):
  Problem 2's standing ``h >= min(n, m)``; Lemma 3.1's ``h >= n + m`` (alpha1 > 0 almost surely for a
  continuous i.i.d. initialization); Theorem 3.3 as stated (``h >= poly(m, n, 1/delta)``: the paper
  never gives the polynomial, so no value); and the smallest h at which the explicit lower bound on
  alpha1/alpha2 of Theorem 3.3's proof (eq. (131) with Lemma F.5) reaches ``target`` (derived).
* ``zou-long-gu`` (linear ResNet B (I + W_L) ... (I + W_1) A): Proposition 3.3's width and Corollary 3.4's
  explicit width (derived), held against the width m of DATA's transform A (``resnet_m``).
* ``zhao-xu`` (deep linear network a_N W_N ... W_1): Section 3's ``n_min >= max(n_0, n_N)``, the width
  conditions of Theorems 1, 2, 4, 5, 6 for their initialization families (up to the unspecified C),
  and Lemma 3's explicit sufficient width (derived), all from
  :func:`convtool.numeric.dln_constants.compute_deep_linear_constants`.

Nothing here prints; :mod:`convtool.cli.cmd_widths` renders.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
>>> tab = width_table(X, Y, h=6, papers=["local-pl"])
>>> [(r.result, r.value, r.meets) for r in tab.rows][:2]
[('Problem 2', 2.0, 'yes'), ('Lemma 3.1', 5.0, 'yes')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from convtool.errors import InputError
from convtool.results import NotApplicable, jsonable

__all__ = ["WidthRow", "WidthContext", "WidthTable", "WIDTH_ROWS", "register_width_rows", "width_table",
           "two_layer_pair", "deep_chain", "thm33_ratio_bound", "thm33_width", "EXPLICIT", "UP_TO_C",
           "UNSPECIFIED", "THM33_DEFAULTS"]

#: how a threshold is known
EXPLICIT = "explicit"
UP_TO_C = "up to an absolute constant C"
UNSPECIFIED = "unspecified (poly)"

#: defaults of Theorem 3.3's parameters: init exponent p (the middle of Fig. 3's 0.275, 0.375, 0.475)
#: and the alpha1/alpha2 to reach
THM33_DEFAULTS = {"p": 0.375, "target": 0.5}


@dataclass
class WidthRow:
    """One width threshold and whether the given width meets it.

    ``value`` is a float, or :class:`~convtool.results.NotApplicable` with the reason; ``meets`` is
    ``"yes"``, ``"no"`` or ``"n/a"``, with ``reason`` saying why (the comparison, or why none is made).
    ``C`` is the absolute constant the value was computed with (None for an explicit threshold).
    """

    paper: str
    result: str
    reference: str
    quantity: str
    value: object
    assumptions: str
    constant: str
    meets: str
    reason: str
    C: float | None = None
    derived: bool = False
    init: str = "any"
    width_name: str = ""
    width: float | None = None
    formula: str = ""

    def to_dict(self) -> dict:
        out = {"paper": self.paper, "result": self.result, "reference": self.reference, "quantity": self.quantity,
               "value": None if isinstance(self.value, NotApplicable) else self.value,
               "value_not_applicable": self.value.reason if isinstance(self.value, NotApplicable) else None,
               "formula": self.formula, "assumptions": self.assumptions, "init": self.init,
               "constant": self.constant, "C": self.C, "derived": self.derived, "width_name": self.width_name,
               "width": self.width, "meets": self.meets, "reason": self.reason}
        return jsonable(out)


@dataclass
class WidthContext:
    """What the row functions read: the data, the widths given, and the theorems' parameters.

    ``h`` is the two-layer width (None when no two-layer weights or width were given; ``h_source`` says
    why); ``layers`` are the deep-linear W_1..W_N (None: no deep-linear rows), ``init`` their family
    (``gaussian``, ``orthogonal``, ``balanced`` or ``file``).
    """

    X: np.ndarray
    Y: np.ndarray
    h: int | None = None
    h_source: str = "no two-layer width given"
    layers: list | None = None
    init: str = "file"
    layers_source: str = ""
    delta: float = 0.1
    c: float = 0.1
    C: float = 1.0
    eta: float | None = None
    theta: float = 0.5
    eps: float | None = None
    loss_scale: str = "sum"
    p: float = THM33_DEFAULTS["p"]
    target: float = THM33_DEFAULTS["target"]
    #: warnings the row functions add (shown by the CLI on stderr)
    warnings: list = field(default_factory=list)
    #: hidden width m of a linear ResNet (DATA's A, m x d) for the zou-long-gu rows; None: not given
    resnet_m: int | None = None


@dataclass
class WidthTable:
    """Result of :func:`width_table`: the rows in registry order, and the parameters used."""

    rows: list
    params: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable({"params": self.params, "sources": self.sources, "rows": [r.to_dict() for r in self.rows],
                         "warnings": list(self.warnings)})


#: paper key -> function (WidthContext) -> list[WidthRow]; one entry per paper, in display order
WIDTH_ROWS: dict[str, Callable[[WidthContext], list]] = {}


def register_width_rows(paper: str):
    """Decorator: register a paper's row function in :data:`WIDTH_ROWS` (one entry per paper)."""

    def deco(func):
        if paper in WIDTH_ROWS:
            raise ValueError(f"width rows of paper {paper!r} are already registered")
        WIDTH_ROWS[paper] = func
        return func

    return deco


def _meets(width: float | None, value, missing: str) -> tuple[str, str]:
    if isinstance(value, NotApplicable):
        return "n/a", f"no value: {value.reason}"
    if width is None:
        return "n/a", missing
    ok = width >= value
    return ("yes" if ok else "no"), f"{width:g} {'>=' if ok else '<'} {value!r}"


# ---------------------------------------------------------------- input interpretation (W1/W2 clash)

def _w_keys(arrays: dict) -> list[str]:
    return sorted((k for k in arrays if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:]))


def two_layer_pair(arrays: dict, n: int, m: int) -> tuple[int | None, str]:
    """``(h, why)``: the two-layer width of ``W1`` (n x h), ``W2`` (m x h), or None and the reason.

    The pair is valid when the W-arrays are exactly W1, W2, two-dimensional, finite, with those shapes.
    """
    keys = _w_keys(arrays)
    if not keys:
        return None, "DATA has no W1 (n x h), W2 (m x h)"
    if keys != ["W1", "W2"]:
        return None, f"DATA's {', '.join(keys)} are not a two-layer pair W1, W2"
    s1, s2 = np.shape(arrays["W1"]), np.shape(arrays["W2"])
    if len(s1) != 2 or len(s2) != 2 or s1[0] != n or s2[0] != m or s1[1] != s2[1]:
        return None, f"W1 {tuple(s1)}, W2 {tuple(s2)} are not n x h, m x h with n = {n}, m = {m}"
    if not (np.isfinite(arrays["W1"]).all() and np.isfinite(arrays["W2"]).all()):
        raise InputError("W1 or W2 has non-finite entries")
    return int(s1[1]), f"W1 ({n} x {s1[1]}), W2 ({m} x {s2[1]}) of DATA"


def deep_chain(arrays: dict, d: int, k: int) -> tuple[list | None, str]:
    """``(layers, why)``: DATA's W1..WN when they form a deep chain R^d -> ... -> R^k (N >= 2), else None."""
    keys = _w_keys(arrays)
    if not keys:
        return None, "DATA has no layers W1 .. WN"
    if keys != [f"W{j}" for j in range(1, len(keys) + 1)] or len(keys) < 2:
        return None, f"DATA's {', '.join(keys)} are not layers W1 .. WN (N >= 2, no gaps)"
    layers = [np.asarray(arrays[key], dtype=np.float64) for key in keys]
    prev = d
    for key, W in zip(keys, layers):
        if W.ndim != 2 or W.shape[1] != prev:
            return None, f"{key} has shape {W.shape}, not (n_j, {prev}): not a deep chain from R^{d}"
        prev = W.shape[0]
    if prev != k:
        return None, f"{keys[-1]} maps to R^{prev}, not R^{k}: not a deep chain to Y's k = {k}"
    if not all(np.isfinite(W).all() for W in layers):
        raise InputError("the layers W1 .. WN have non-finite entries")
    dims = [d] + [W.shape[0] for W in layers]
    return layers, f"layers {', '.join(keys)} of DATA, widths {dims}"


# ---------------------------------------------------------------- local-PL, Theorem 3.3 (eq. 131)
def thm33_ratio_bound(h, *, p: float, sigma_max_Wstar: float, Wstar_fro: float, kappa: float, m: int, n: int,
                      delta: float) -> float:
    """The lower bound on alpha1/alpha2 of eq. (131) at width h: the registry's ``alpha_ratio_bound``
    (``convtool explain alpha_ratio_bound``), with B of Lemma F.5 from n, m, delta."""
    from convtool.analysis.evaluate import compiled

    f, fB = compiled("alpha_ratio_bound"), compiled("B_F5")
    vals = {"h": float(h), "p": p, "sigma_max_Wstar": sigma_max_Wstar, "Wstar_fro": Wstar_fro, "kappa": kappa,
            "m": float(m), "n": float(n), "delta": delta}
    vals["B_F5"] = float(fB(*[vals[a] for a in fB.argnames]))
    return float(f(*[vals[a] for a in f.argnames]))


def thm33_width(*, target: float, p: float, delta: float, n: int, m: int, sigma_max_Wstar: float,
                Wstar_fro: float, kappa: float):
    """Smallest integer h > B^2 at which eq. (131)'s bound on alpha1/alpha2 is at least ``target`` (derived).

    ``B = sqrt(m + n) + 1/2 log(2/delta)`` (Lemma F.5). For sqrt(h) > B the bound increases with h
    (each term of its reciprocal decreases, as 2p < 1) and tends to 1, so the set where it reaches the
    target is ``[h*, inf)``; below sqrt(h) = B the singular-value bound sqrt(h) - B behind Lemma F.5 is
    negative and says nothing. Returns a float, or NotApplicable.
    """
    if not 0 < target < 1:
        return NotApplicable(f"target alpha1/alpha2 = {target!r} must lie in (0, 1)")
    if not 0 < p < 0.5:
        return NotApplicable(f"p = {p!r}: the bound tends to 1 only for p < 1/2")
    from convtool.analysis.evaluate import compiled

    fB = compiled("B_F5")
    B = float(fB(*[{"m": float(m), "n": float(n), "delta": delta}[a] for a in fB.argnames]))
    args = dict(p=p, sigma_max_Wstar=sigma_max_Wstar, Wstar_fro=Wstar_fro, kappa=kappa, m=m, n=n, delta=delta)
    lo = math.floor(B * B)  # bound(lo) < target or lo <= B^2: not admissible
    hi = max(lo + 1, 1)
    while thm33_ratio_bound(hi, **args) < target:
        hi *= 2
        if hi > 2 ** 1000:
            return NotApplicable(f"eq. (131)'s bound stays below {target!r} up to h = 2^1000")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid > B * B and thm33_ratio_bound(mid, **args) >= target:
            hi = mid
        else:
            lo = mid
    return float(hi)


@register_width_rows("local-pl")
def local_pl_rows(ctx: WidthContext) -> list:
    """Rows of the local-PL paper on two-layer linear models (n = X's columns, m = Y's columns)."""
    from convtool.analysis import get
    from convtool.numeric.losses import SquaredLoss

    paper = "local-pl"
    n, m = int(ctx.X.shape[1]), int(ctx.Y.shape[1])
    h = None if ctx.h is None else float(ctx.h)
    missing = f"no two-layer width h ({ctx.h_source})"
    rows = []

    v = float(min(n, m))
    rows.append(WidthRow(paper, "Problem 2", "Section 2", "min(n, m)", v,
                         "W1 in R^{n x h}, W2 in R^{m x h}: the factorization can reach every W (standing)",
                         EXPLICIT, *_meets(h, v, missing), width_name="h", width=h, formula="h >= min(n, m)"))
    v = float(n + m)
    rows.append(WidthRow(paper, "Lemma 3.1", "Lemma 3.1, Appendix F", "n + m", v,
                         "W1(0), W2(0) entry-wise i.i.d. from a continuous distribution; then alpha1 > 0 almost "
                         "surely", EXPLICIT, *_meets(h, v, missing), init="continuous i.i.d.", width_name="h",
                         width=h, formula="h >= n + m"))
    stated = NotApplicable("the paper states h >= poly(m, n, 1/delta) without the polynomial")
    rows.append(WidthRow(paper, "Theorem 3.3", "Theorem 3.3, eq. (21)", "poly(m, n, 1/delta)", stated,
                         f"W1(0), W2(0) i.i.d. N(0, h^(-2p)), 1/4 < p < 1/2; with probability 1 - delta "
                         f"(delta = {ctx.delta:g}): alpha1/alpha2 >= 1 - Omega(h^(2p-1))", UNSPECIFIED,
                         *_meets(h, stated, missing), init="gaussian N(0, h^-2p)", width_name="h", width=h,
                         formula="h >= poly(m, n, 1/delta)"))

    loss = SquaredLoss(ctx.X, ctx.Y)
    ref = f"Theorem 3.3 proof, eq. (131) with Lemma F.5 (derived; alpha_ratio: {get('alpha_ratio').reference})"
    if not loss.mu > 0:
        val = NotApplicable("mu = 0 (X has deficient column rank): eq. (131) needs K/mu")
    elif not 0 < ctx.delta < 1:
        val = NotApplicable(f"delta = {ctx.delta!r} must lie in (0, 1)")
    else:
        val = thm33_width(target=ctx.target, p=ctx.p, delta=ctx.delta, n=n, m=m,
                          sigma_max_Wstar=float(np.linalg.norm(loss.Wstar, 2)),
                          Wstar_fro=float(np.linalg.norm(loss.Wstar)), kappa=float(loss.K / loss.mu))
    p_note = "" if 0.25 < ctx.p < 0.5 else f" (p = {ctx.p:g} is outside Theorem 3.3's range)"
    meets, reason = _meets(h, val, missing)
    rows.append(WidthRow(paper, "Theorem 3.3", ref, f"h with eq. (131) bound >= {ctx.target:g}", val,
                         f"W1(0), W2(0) i.i.d. N(0, h^(-2p)), p = {ctx.p:g}{p_note}; squared loss, mu > 0; "
                         f"B = sqrt(m+n) + log(2/delta)/2, delta = {ctx.delta:g}; holds with probability "
                         f">= 1 - 2 delta (Lemma F.5 and eq. 129) once h >= poly(m, n, 1/delta) (unspecified) as "
                         f"well; sqrt(h) > B", EXPLICIT, meets, reason, derived=True,
                         init="gaussian N(0, h^-2p)", width_name="h", width=h,
                         formula=f"min h > B^2 with eq. (131) >= alpha1/alpha2 target {ctx.target:g}"))
    return rows


# ---------------------------------------------------------------- Zhao & Xu (deep linear)

#: (quantity, result, init family, extra assumptions); references and derived flags come from the registry
ZHAO_XU_CONDITIONS = (
    ("width_thm1_gaussian", "Theorems 1, 2", "gaussian", "i.i.d. N(0, 1) layers; eta < eta1 (Theorem 2)"),
    ("width_thm1_orthogonal", "Theorems 1, 2", "orthogonal", "one-peak orthogonal layers; eta < eta1"),
    ("width_thm2_balanced", "Theorem 2", "balanced", "special balanced init, equal hidden widths; eta < eta1"),
    ("width_thm4", "Theorem 4", "gaussian", "i.i.d. N(0, 1) layers; eta < eta0(c) (eq. 22)"),
    ("width_thm5", "Theorem 5", "orthogonal", "one-peak orthogonal layers; eta < eta0(c) (eq. 22)"),
    ("width_thm5_equal", "Theorem 5", "orthogonal", "one-peak orthogonal, equal hidden widths >= max(n_0, n_N); "
                                                     "eta < eta0(c)"),
    ("width_thm6", "Theorem 6", "balanced", "special balanced init, equal hidden widths; eta < eta0(c)"),
    ("width_lemma3_derived", "Lemma 3", "any", "c1_hat <= c/6, c2_hat <= c/3 at the init (eq. 14); 0 < eps < 1; "
                                               "M = max(M_hat, 1), B0 = E0/beta"),
)


def _formula(q) -> str:
    import sympy as sp

    return f"{q.name} = {sp.sstr(q.display_expr)}" if q.display_expr is not None else q.name


@register_width_rows("zhao-xu")
def zhao_xu_rows(ctx: WidthContext) -> list:
    """Rows of Zhao & Xu: every theorem's width condition, from ``compute_deep_linear_constants``."""
    from convtool.analysis import get
    from convtool.analysis.evaluate import evaluate
    from convtool.numeric.dln_constants import PAPER, compute_deep_linear_constants

    if ctx.layers is None:
        return []
    res = compute_deep_linear_constants(ctx.X, ctx.Y, ctx.layers, loss_scale=ctx.loss_scale, delta=ctx.delta,
                                        c=ctx.c, C=ctx.C, eta=ctx.eta, theta=ctx.theta, eps=ctx.eps, init=ctx.init)
    ctx_q = res.quantities
    n_min = float(ctx_q["n_min"])
    eta_txt = f"eta = {ctx_q['eta']:.6g}"
    rows = []
    q = get("width_standing", paper=PAPER)
    v = float(evaluate({"n_0": ctx_q["n_0"], "n_N": ctx_q["n_N"]}, targets=["width_standing"],
                       paper=PAPER)["width_standing"])
    rows.append(WidthRow(PAPER, "Section 3", q.reference, q.name, v, q.description, EXPLICIT,
                         *_meets(n_min, v, ""), width_name="n_min", width=n_min, formula=_formula(q)))
    for name, result, family, assume in ZHAO_XU_CONDITIONS:
        q = get(name, paper=PAPER)
        val = ctx_q[name]
        derived = bool(getattr(q, "derived", False))
        uses_c = not derived
        meets, reason = _meets(n_min, val, "")
        if family != "any" and ctx.init != family and meets != "n/a":
            how = "read from a file (no family)" if ctx.init == "file" else f"{ctx.init}"
            reason += f"; width only: the layers are {how}, this condition is for {family} init"
        constant = UP_TO_C if uses_c else EXPLICIT
        rows.append(WidthRow(PAPER, result, q.reference, name, val,
                             f"{assume}; {eta_txt}; with probability >= 1 - delta (delta = {ctx.delta:g}); "
                             f"{q.description}", constant, meets, reason, C=float(ctx.C) if uses_c else None,
                             derived=derived, init=family, width_name="n_min", width=n_min, formula=_formula(q)))
    ctx.warnings.extend(res.warnings)
    return rows


@register_width_rows("zou-long-gu")
def zou_long_gu_rows(ctx: WidthContext) -> list:
    """Rows of Zou, Long & Gu: Proposition 3.3's width (Gaussian bands) and Corollary 3.4's explicit width
    (derived), from the registry at alpha = beta = 1; held against the ResNet width m of DATA's A."""
    from convtool.analysis import get
    from convtool.analysis.evaluate import evaluate

    P = "zou-long-gu"
    X, Y = ctx.X, ctx.Y
    n, d = X.shape
    k = Y.shape[1]
    s = np.linalg.svd(X, compute_uv=False)
    r = int(np.sum(s > max(n, d) * np.finfo(float).eps * s[0])) if s.size and s[0] > 0 else 0
    if r == 0:
        return []
    Wst = np.linalg.lstsq(X, Y, rcond=None)[0]
    vals = {"n": float(n), "d": float(d), "k": float(k), "r": float(r), "X_norm": float(s[0]),
            "sigma_r": float(s[r - 1]), "X_fro": float(np.sqrt(np.sum(s ** 2))), "Y_fro": float(np.linalg.norm(Y)),
            "lstar": 0.5 * float(np.sum((X @ Wst - Y) ** 2)), "delta": float(ctx.delta)}
    out = evaluate(vals, targets=["m_prop33", "m_cor34"], paper=P)
    width = None if ctx.resnet_m is None else float(ctx.resnet_m)
    missing = "no ResNet width: DATA holds no transform A (m x d)"
    rows = []
    for name, result, assume in (
            ("m_prop33", "Proposition 3.3", "Gaussian A, B; bands 0.9 alpha sqrt(m) <= sigma(A) <= 1.1 alpha sqrt(m) "
                                            "(and B) with probability >= 1 - delta/3"),
            ("m_cor34", "Corollary 3.4", "Gaussian A, B with alpha = beta = 1; GD at Theorem 3.1's step reaches "
                                         "L* + eps in O(kappa log 1/eps) with probability >= 1 - delta")):
        q = get(name, paper=P)
        v = float(out[name])
        if name == "m_cor34" and not np.log(3 * n / ctx.delta) >= 1:
            v = NotApplicable("needs log(3n/delta) >= 1 (Proposition 3.3's loss bound)")
        meets, reason = _meets(width, v, missing)
        rows.append(WidthRow(P, result, q.reference, name, v, f"{assume} (delta = {ctx.delta:g}); {q.description}",
                             EXPLICIT, meets, reason, derived=bool(q.derived), width_name="m", width=width,
                             formula=_formula(q)))
    return rows


# ---------------------------------------------------------------- front door

def width_table(X, Y, *, h: int | None = None, h_source: str | None = None, layers=None, init: str = "file",
                layers_source: str = "", delta: float = 0.1, c: float = 0.1, C: float = 1.0,
                eta: float | None = None, theta: float = 0.5, eps: float | None = None, loss_scale: str = "sum",
                p: float = THM33_DEFAULTS["p"], target: float = THM33_DEFAULTS["target"],
                papers=None, resnet_m: int | None = None) -> WidthTable:
    """Every registered width threshold for data ``X`` (rows = samples), ``Y`` and the given widths.

    Parameters
    ----------
    X, Y : array (N, n), (N, m)
        Data, samples as rows (two-layer: n = X's columns, m = Y's; deep linear: d, k).
    h : int, optional
        Two-layer width the local-PL rows are held against (``h_source`` says where it came from or why
        there is none).
    layers : list of arrays, optional
        Deep-linear layers W_1..W_N (W_j of shape (n_j, n_{j-1})); without them there are no Zhao & Xu rows.
    init : str
        Family of ``layers`` (gaussian, orthogonal, balanced, or file).
    delta, c, C, eta, theta, eps, loss_scale
        As :func:`~convtool.numeric.dln_constants.compute_deep_linear_constants`; ``delta`` is also
        Theorem 3.3's failure probability.
    p, target : float
        Theorem 3.3's init exponent (std = h^-p) and the alpha1/alpha2 to reach.
    papers : iterable of str, optional
        Keys of :data:`WIDTH_ROWS` to include (default all, in registry order).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.size == 0 or Y.size == 0:
        raise InputError(f"X and Y must be non-empty 2-D arrays, got shapes {X.shape}, {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise InputError(f"X has {X.shape[0]} rows (samples) but Y has {Y.shape[0]}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise InputError("X or Y has non-finite entries")
    for name, v in (("p", p), ("target", target), ("delta", delta)):
        if not np.isfinite(v):
            raise InputError(f"--{name} must be a finite number, got {v!r}")
    if not 0 < delta < 1:
        raise InputError(f"--delta must lie in (0, 1), got {delta!r}")
    if not 0 < target < 1:
        raise InputError(f"--target must lie in (0, 1), got {target!r}")
    if not 0 < p < 0.5:
        raise InputError(f"--p must lie in (0, 1/2) (Theorem 3.3: 1/4 < p < 1/2), got {p!r}")
    ctx = WidthContext(X=X, Y=Y, h=h, h_source=h_source or ("given" if h is not None else "no two-layer width given"),
                       layers=layers, init=init, layers_source=layers_source, delta=float(delta), c=float(c),
                       C=float(C), eta=eta, theta=float(theta), eps=eps, loss_scale=loss_scale, p=float(p),
                       target=float(target), resnet_m=resnet_m)
    keys = list(WIDTH_ROWS) if papers is None else list(papers)
    unknown = [k for k in keys if k not in WIDTH_ROWS]
    if unknown:
        raise InputError(f"no width rows for paper(s) {', '.join(unknown)}; known: {', '.join(WIDTH_ROWS)}")
    rows = []
    for key in keys:
        rows.extend(WIDTH_ROWS[key](ctx))
    params = {"delta": ctx.delta, "c": ctx.c, "C": ctx.C, "eta": eta, "theta": ctx.theta, "eps": eps,
              "loss_scale": loss_scale, "p": ctx.p, "target": ctx.target}
    sources = {"two_layer": {"n": int(X.shape[1]), "m": int(Y.shape[1]), "h": h, "h_source": ctx.h_source},
               "deep_linear": None if layers is None else {
                   "widths": [int(X.shape[1])] + [int(np.shape(W)[0]) for W in layers], "init": init,
                   "source": layers_source}}
    return WidthTable(rows=rows, params=params, sources=sources, warnings=list(ctx.warnings))


# ------------------------------------------------------------------ Song et al. (shallow network, issue 10)
#: Table 1 of Song et al. (NeurIPS 2021, arXiv:2111.01875): prior scaling laws of the number of parameters
#: (QL = quadratic loss, CLL = convex and Lipschitz loss, SD = separable data), as data
SONG_TABLE1 = (
    {"depth": "2", "algorithm": "GD on layer 1", "setting": "QL", "activation": "ReLU", "scaling": "Omega~(n^2)",
     "exponent": 2.0, "reference": "Oymak and Soltanolkotabi [39]"},
    {"depth": "L", "algorithm": "GD on layer L", "setting": "CLL", "activation": "ReLU", "scaling": "Omega~(n)",
     "exponent": 1.0, "reference": "Kawaguchi and Huang [22]"},
    {"depth": "2", "algorithm": "GD", "setting": "SD", "activation": "ReLU", "scaling": "Omega~(n^2)",
     "exponent": 2.0, "reference": "Song and Yang [41]"},
    {"depth": "2", "algorithm": "GD", "setting": "SD and QL", "activation": "ReLU", "scaling": "Omega~(n^6)",
     "exponent": 6.0, "reference": "Du et al. [12]"},
    {"depth": "L", "algorithm": "GD", "setting": "SD and QL", "activation": "ReLU", "scaling": "Omega(n^8 L^12)",
     "exponent": 8.0, "reference": "Zou and Gu [47]"},
    {"depth": "2", "algorithm": "GD", "setting": "QL", "activation": "Smooth", "scaling": "Omega~(n^{3/2})",
     "exponent": 1.5, "reference": "This paper (Song et al.)"},
)


def shallow_width_rows(res) -> list:
    """The shallow rows of ``convtool widths`` from a :class:`~convtool.numeric.shallow_constants.ShallowConstants`:
    (79), (80) with xi of (78), the derived odd-activation variant, the constant-free (21) ``n^{3/2}/d0`` and the
    relaxed ``n^{5/3}/d0`` (App. E, without the bound on sigma_max(V_k)). Values are d1 thresholds."""
    q, sh = res.quantities, res.shape
    n, d0, d1 = sh["n"], sh["d0"], sh["d1"]
    return [
        {"name": "width_79", "value": q["width_79"],
         "formula": "(79): xi sqrt(n) sigma_max(X)^2 / sigma_min(X^(*t))^3, xi of (78) with the delta defaults "
                    "(up to logs)", "kind": "paper"},
        {"name": "width_80", "value": q["width_80"], "formula": "(80): xi n^{3/2} / d0 (sigma_max(X) ~ sqrt(n/d0), "
         "sigma_min(X^(*t)) ~ 1)", "kind": "paper"},
        {"name": "width_odd", "value": q["width_odd"], "formula": "odd phi (c0 = 0), derived: xi_odd sigma_max(X)^3 / "
         "sigma_min(X^(*t))^3 ~ (n/d0)^{3/2}", "kind": "derived"},
        {"name": "order_21", "value": float(n ** 1.5 / d0), "formula": "(21) without constants: n^{3/2}/d0 "
         "(d0 d1 ~ n^{3/2} parameters)", "kind": "paper"},
        {"name": "order_relaxed", "value": float(n ** (5 / 3) / d0), "formula": "App. E without the bound on "
         "sigma_max(V_k): n^{5/3}/d0", "kind": "paper"},
        {"name": "d1", "value": float(d1), "formula": f"this instance's width (n = {n}, d0 = {d0})", "kind": "data"},
    ]
