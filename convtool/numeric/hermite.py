"""Numbers of an activation for Song et al.'s Theorem 3: sup |phi'|, sup |phi''|, Hermite coefficients, r1, r2.

All functions take a :class:`~convtool.analysis.activations.SymbolicActivation`.

* :func:`derivative_sup` -- ``sup_a |g(a)|`` for g = phi' or phi'': the critical points (zeros of g') are
  located by sympy where it can (``solve``, run in a child process under a time limit, so an expression
  sympy cannot handle never hangs the caller) and by a bracketed search (sign changes of g' on a dense grid
  of [-L, L], each refined with ``brentq``); the tails are the limits at +-inf (g at |a| = 10^3 .. 10^8 on a
  log grid, where g' must keep one sign: checked). The value is verified on the dense grid: no grid point
  may exceed it by more than 1e-9 relative. For the built-ins the tails are monotone beyond |a| = 10
  (their derivatives are rational in e^a or polynomial times e^{-a^2/2}), so [-40, 40] is a proven range.
* :func:`hermite_coefficients` -- ``c_i = E[phi(g) He_i(g)]`` (probabilist's, unnormalized He_i, the
  paper's Def. 4) by Gauss-Hermite quadrature (with its error estimate, the change from half the nodes),
  and exact sympy integrals where they exist (Gaussian integration by parts ``c_i = E[phi''(g) He_{i-2}(g)]``
  first, in a child process under a time limit); both are reported where both exist.
  ``c_inf_sq = E[phi^2] - c0^2 - c1^2`` (Parseval; (57)). The Hermite "norm" of Def. 4,
  ``sqrt(sum c_i^2)``, diverges for common activations (c_i^2 ~ i! x summable): reported as such.
* :func:`scaling_exponents` -- Theorem 3's r1, r2: the sup / inf over a and 0 < tau < 1 of
  ``q(a, tau) = log(|phi(tau a)|/|phi(a)|)/log(tau)`` (with the limit ``a phi'(a)/phi(a)`` at tau -> 1), on a
  grid, with the argmax / argmin; "none" (with the reason) when q is unbounded (GeLU, SiLU: r2 -> -inf).

Examples
--------
>>> from convtool.analysis.activations import builtin
>>> s = derivative_sup(builtin("tanh"), 1)
>>> round(s.value, 12), s.argmax
(1.0, 0.0)
>>> h = hermite_coefficients(builtin("gelu"), imax=4, exact=False)
>>> [round(c, 6) for c in h.quadrature[:3]]
[0.282095, 0.5, 0.423142]
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SupResult", "derivative_sup", "HermiteResult", "hermite_coefficients", "scaling_exponents",
           "ScalingResult", "gaussian_expectation", "SEARCH_L", "GRID_POINTS", "GH_NODES", "activation_constants"]

SEARCH_L = 40.0
GRID_POINTS = 80001
GH_NODES = 160
#: seconds granted to sympy (solve, integrate) per activation, in a child process
SYMPY_TIMEOUT = 6.0
#: seconds granted to sympy's solve for the critical points
SOLVE_TIMEOUT = 2.0


class _Child:
    """``fn(*args)`` started in a forked child; :meth:`result` waits at most ``timeout`` seconds from the start,
    then kills it (None on failure or time-out). Several children run at once."""

    def __init__(self, fn, args, timeout: float):
        import multiprocessing as mp
        import time

        self.deadline = time.monotonic() + timeout
        self.proc = None
        try:
            ctx = mp.get_context("fork")
        except ValueError:  # no fork on this platform: no symbolic step
            return
        self.recv, send = ctx.Pipe(duplex=False)

        def target():
            try:
                send.send(("ok", fn(*args)))
            except BaseException as exc:  # noqa: BLE001 - report, never raise, in the child
                send.send(("error", repr(exc)))

        self.proc = ctx.Process(target=target, daemon=True)
        self.proc.start()

    def result(self):
        import time

        if self.proc is None:
            return None
        out = None
        if self.recv.poll(max(0.0, self.deadline - time.monotonic())):
            try:
                status, val = self.recv.recv()
                out = val if status == "ok" else None
            except (EOFError, OSError):
                out = None
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(1.0)
        self.recv.close()
        return out


def _in_child(fn, args, timeout: float):
    """``fn(*args)`` in a forked child, or None if it fails or runs past ``timeout`` seconds (then killed)."""
    return _Child(fn, args, timeout).result()


# ------------------------------------------------------------------ sup |phi'|, sup |phi''|
@dataclass
class SupResult:
    """``value`` = sup |g|, ``argmax`` (a float, or "+inf" / "-inf" when approached in a tail), ``method``,
    ``critical_points`` (zeros of g' used), ``verified`` (the dense-grid check), ``grid_max``."""

    order: int
    value: float
    argmax: object
    method: str
    critical_points: list
    verified: bool
    grid_max: float
    tail_ok: bool = True

    def to_dict(self) -> dict:
        return {"value": self.value, "argmax": self.argmax, "method": self.method,
                "critical_points": self.critical_points, "verified_on_grid": self.verified,
                "grid_max": self.grid_max, "tails_monotone": self.tail_ok}


def _sympy_critical(expr_d, L):
    import sympy as sp

    from convtool.analysis.activations import x

    sols = sp.solve(sp.Eq(expr_d, 0), x)
    out = []
    for s in sols:
        v = complex(sp.N(s))
        if abs(v.imag) < 1e-12 and abs(v.real) <= L:
            out.append(float(v.real))
    return out


def _grid_roots(f, grid):
    with np.errstate(all="ignore"):
        v = f(grid)
    z = v == 0
    iso = z & ~(np.r_[False, z[:-1]] & np.r_[z[1:], False])  # isolated zeros (not an underflowed tail)
    out = list(grid[iso])
    s = np.sign(v)
    idx = np.flatnonzero((s[:-1] * s[1:] < 0) & np.isfinite(v[:-1]) & np.isfinite(v[1:]))
    from scipy.optimize import brentq

    for i in idx:
        a, b = grid[i], grid[i + 1]
        try:
            out.append(float(brentq(lambda z: float(f(np.array([z]))[0]), a, b, xtol=1e-15, rtol=1e-15)))
        except ValueError:
            out.append(float(0.5 * (a + b)))
    return out


def derivative_sup(act, order: int, *, L: float = SEARCH_L, points: int = GRID_POINTS,
                   symbolic: bool = True, child=None) -> SupResult:
    """sup_a |phi^(order)(a)| for order 1 or 2 (module docstring), with its argmax and method."""
    g = {1: act.dphi, 2: act.d2phi}[order]
    dg = {1: act.d2phi, 2: act.d3phi}[order]
    dexpr = {1: act.d2, 2: act.d3}[order]
    grid = np.linspace(-L, L, points)
    with np.errstate(all="ignore"):
        gv = np.abs(g(grid))
    grid_max = float(np.nanmax(gv)) if np.isfinite(gv).any() else float("nan")
    crit, method = [], "bracketed search (sign changes of the next derivative on a dense grid, brentq)"
    if child is None and symbolic and act.smooth:
        child = _Child(_sympy_critical, (dexpr, L), SOLVE_TIMEOUT)
    if child is not None:
        found = child.result()
        if found:
            crit += found
            method = "sympy critical points + " + method
    crit += _grid_roots(dg, grid)
    crit = sorted(set(round(c, 13) for c in crit))
    cands = []
    # tails: |a| = 1e3 .. 1e8 on a log grid; the next derivative must keep one sign there
    tail_ok = True
    for sgn, label in ((1.0, "+inf"), (-1.0, "-inf")):
        pts = sgn * np.logspace(math.log10(L), 8, 60)
        with np.errstate(all="ignore"):
            tv, dv = np.abs(g(pts)), dg(pts)
        fin = np.isfinite(dv)
        if fin.any() and (np.sign(dv[fin]) != np.sign(dv[fin][0])).any() and np.abs(dv[fin]).max() > 1e-300:
            tail_ok = False
        if np.isfinite(tv).any():
            k = int(np.nanargmax(tv))
            cands.append((float(tv[k]), label if tv[k] >= tv[0] else float(pts[k])))
    cands += [(float(np.abs(g(np.array([c])))[0]), float(c)) for c in crit]  # tails first: ties go to a limit
    cands += [(float(gv[0]), float(-L)), (float(gv[-1]), float(L))]
    finite = [(v, a) for v, a in cands if np.isfinite(v)]
    if not finite:
        return SupResult(order, float("inf"), None, method, crit, False, grid_max, tail_ok)
    value, argmax = max(finite, key=lambda p: p[0])
    if any(not np.isfinite(v) for v, _ in cands) or not np.isfinite(gv).all():
        value, argmax = float("inf"), None
    verified = bool(np.isfinite(grid_max) and grid_max <= value * (1 + 1e-9) + 1e-300)
    return SupResult(order, float(value), argmax, method, [float(c) for c in crit], verified, grid_max, tail_ok)


# ------------------------------------------------------------------ Hermite coefficients
@functools.lru_cache(maxsize=8)
def _gh(nodes: int):
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, w / math.sqrt(2 * math.pi)


def gaussian_expectation(f, nodes: int = GH_NODES) -> float:
    """E[f(g)], g ~ N(0, 1), by Gauss-Hermite quadrature with ``nodes`` nodes."""
    z, w = _gh(nodes)
    with np.errstate(all="ignore"):
        return float(np.sum(w * f(z)))


def _he(i: int, z):
    c = np.zeros(i + 1)
    c[i] = 1.0
    return np.polynomial.hermite_e.hermeval(z, c)


def _exact_coefficients(expr, d2, imax: int, by_parts: bool):
    import sympy as sp

    from convtool.analysis.activations import x

    out = []
    dens = sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi)
    for i in range(imax + 1):
        k = min(i, 2) if by_parts else 0
        f = (expr, sp.diff(expr, x), d2)[k]
        r = sp.integrate(sp.expand(f * sp.hermite_prob(i - k, x) * dens), (x, -sp.oo, sp.oo))
        r = sp.simplify(r)
        out.append(None if r.has(sp.Integral) or not r.is_finite else r)
    return out


def _want_exact(act, omega: float = 1.0):
    """(try sympy?, reason if not): not for built-ins without a closed form, nor for a kinked phi (slow)."""
    if omega != 1.0:
        return False, "exact integrals only at omega = 1"
    if act.builtin and act.name in _NO_CLOSED_FORM:
        return False, "no closed form: sympy returns unevaluated integrals for this activation"
    if not act.smooth:
        return False, "not attempted for a phi that is not C^2 (quadrature split at the break points)"
    return True, None


def _exact_child(act, imax: int, omega: float = 1.0):
    import sympy as sp

    from convtool.analysis.activations import x

    expr = act.expr if omega == 1.0 else act.expr.subs(x, sp.Float(omega) * x)
    return _Child(_exact_coefficients, (expr, sp.diff(expr, x, 2), imax, act.smooth), SYMPY_TIMEOUT)


@dataclass
class HermiteResult:
    """Hermite coefficients c_0 .. c_imax (quadrature, its error estimate, and exact where sympy gives them)."""

    imax: int
    quadrature: list
    quadrature_error: list
    exact: list | None
    exact_reason: str | None
    E_phi2: float
    c_inf_sq: float
    norm_diverges: bool
    norm_reason: str
    nodes: int
    omega: float = 1.0
    parity: str = "none"
    tail: list = field(default_factory=list)
    method: str = ""

    @property
    def values(self) -> list:
        """The coefficients convtool uses: exact where known, quadrature otherwise."""
        if self.exact is None:
            return list(self.quadrature)
        return [float(e) if e is not None else q for e, q in zip(self.exact, self.quadrature)]

    def to_dict(self) -> dict:
        return {"c": self.values, "quadrature": self.quadrature, "quadrature_error": self.quadrature_error,
                "exact": None if self.exact is None else [None if e is None else str(e) for e in self.exact],
                "exact_values": None if self.exact is None else [None if e is None else float(e) for e in self.exact],
                **({"exact_reason": self.exact_reason} if self.exact_reason else {}),
                "E_phi2": self.E_phi2, "c_inf_sq": self.c_inf_sq, "parity": self.parity,
                "hermite_norm": None, "hermite_norm_diverges": self.norm_diverges,
                "hermite_norm_reason": self.norm_reason, "quadrature_method": self.method, "omega": self.omega}


#: built-ins for which sympy returns unevaluated integrals (no closed form; not attempted)
_NO_CLOSED_FORM = {"tanh", "sigmoid", "sigmoid0", "softplus", "softplus0", "silu"}


def _parity(act) -> str:
    a = np.linspace(0.01, 10, 500)
    p, m = act.phi(a), act.phi(-a)
    scale = np.abs(p).max() + np.abs(m).max()
    if np.abs(p + m).max() <= 1e-13 * scale:
        return "odd"
    if np.abs(p - m).max() <= 1e-13 * scale:
        return "even"
    lin = act.phi(a) - act.phi(-a)
    if np.abs(lin - 2 * act.dphi(np.zeros(1))[0] * a).max() <= 1e-12 * scale:
        return "linear + even"
    return "none"


def hermite_coefficients(act, imax: int = 6, *, omega: float = 1.0, nodes: int = GH_NODES,
                         exact: bool | None = None, tail_max: int = 24, child=None) -> HermiteResult:
    """c_i = E[phi(omega g) He_i(g)], i = 0 .. imax (module docstring).

    ``exact``: try sympy (None: automatically, except built-ins without a closed form and omega != 1).
    """
    z, w = _gh(nodes)
    zh, wh = _gh(nodes // 2)
    with np.errstate(all="ignore"):
        pz, ph = act.phi(omega * z), act.phi(omega * zh)
    from convtool.analysis.activations import _break_points

    breaks, _ = _break_points(act.expr)
    if breaks:  # a kink: Gauss-Hermite converges slowly; adaptive quadrature split at the break points
        quad, err, E2 = _split_quad(act, imax, omega, [b / omega for b in breaks])
        method = "composite Gauss-Legendre on [-14, 14] split at the break points (error: change from half the panels)"
    else:
        quad = [float(np.sum(w * pz * _he(i, z))) for i in range(imax + 1)]
        half = [float(np.sum(wh * ph * _he(i, zh))) for i in range(imax + 1)]
        err = [abs(a - b) for a, b in zip(quad, half)]
        E2 = float(np.sum(w * pz * pz))
        method = f"Gauss-Hermite ({nodes} nodes; error: change from {nodes // 2})"
    cinf = E2 - quad[0] ** 2 - quad[1] ** 2
    # the Hermite "norm" of Def. 4: sum c_i^2 with unnormalized He_i
    tail = [float(np.sum(w * pz * _he(i, z))) for i in range(tail_max + 1)]
    # quadrature error of c_i grows like eps sqrt(i!) (||He_i|| = sqrt(i!)): below that, c_i counts as 0
    noise = np.array([1e-12 * math.sqrt(math.factorial(i)) * math.sqrt(max(E2, 1e-300)) for i in range(tail_max + 1)])
    tarr = np.where(np.abs(tail) > noise, tail, 0.0)
    sq = tarr ** 2
    late = sq[tail_max - 5:]
    if late.max() == 0:
        diverges = False
        reason = (f"finite: c_i = 0 to quadrature accuracy for i = {tail_max - 5}..{tail_max} "
                  f"(sum_i c_i^2 = {sq.sum():.6g} up to i = {tail_max})")
    else:
        diverges = True
        grows = late.max() >= 0.5 * sq[: tail_max - 5].max()
        reason = ((f"diverges: c_i^2 does not decay (max of c_i^2 over i = {tail_max - 5}..{tail_max} is "
                   f"{late.max():.3g})") if grows else
                  (f"not established: c_i^2 decays slowly (max over i = {tail_max - 5}..{tail_max} is "
                   f"{late.max():.3g})")) + f"; (57) only needs c_inf^2 = sum_{{i>=2}} c_i^2/i! = {cinf:.6g}, finite"
    ex, why = None, None
    if child is not None:
        exact = True
    if exact is None:
        exact, why = _want_exact(act, omega)
    if exact:
        ex = (child or _exact_child(act, imax, omega)).result()
        if ex is None:
            why = f"sympy found no closed form within {SYMPY_TIMEOUT:g} s"
        elif all(e is None for e in ex):
            ex, why = None, "sympy found no closed form"
    return HermiteResult(imax, quad, err, ex, why, E2, cinf, diverges, reason, nodes, omega, _parity(act), tail,
                         method)


def _split_quad(act, imax, omega, breaks, edge: float = 14.0, sub: int = 16, nodes: int = 64):
    """Composite Gauss-Legendre on [-14, 14] split at the break points (the Gaussian weight beyond is below
    1e-42): spectral accuracy on each smooth piece. Error estimate: change from half the subintervals."""
    def rule(subs):
        cuts = sorted({-edge, edge, *[b for b in breaks if -edge < b < edge]})
        g, gw = np.polynomial.legendre.leggauss(nodes)
        zs, ws = [], []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            e = np.linspace(lo, hi, subs + 1)
            for a, b in zip(e[:-1], e[1:]):
                zs.append(0.5 * (b - a) * g + 0.5 * (a + b))
                ws.append(0.5 * (b - a) * gw)
        z, w = np.concatenate(zs), np.concatenate(ws)
        return z, w * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    out = []
    for subs in (sub, sub // 2):
        z, w = rule(subs)
        with np.errstate(all="ignore"):
            p = act.phi(omega * z)
        out.append(([float(np.sum(w * p * _he(i, z))) for i in range(imax + 1)], float(np.sum(w * p * p))))
    (c, E2), (ch, _) = out
    return c, [abs(u - v) for u, v in zip(c, ch)], E2


# ------------------------------------------------------------------ r1, r2 of Theorem 3
@dataclass
class ScalingResult:
    """Theorem 3's r1 (sup of q) and r2 (inf of q), each a float or None with a reason, and the argmax."""

    r1: float | None
    r2: float | None
    r1_at: tuple | None
    r2_at: tuple | None
    r1_reason: str | None = None
    r2_reason: str | None = None

    def to_dict(self) -> dict:
        return {"r1": self.r1, "r2": self.r2, "r1_argmax": self.r1_at, "r2_argmin": self.r2_at,
                **({"r1_reason": self.r1_reason} if self.r1_reason else {}),
                **({"r2_reason": self.r2_reason} if self.r2_reason else {})}


def _q_grid(act, amax: float):
    a = np.concatenate([-np.logspace(-3, math.log10(amax), 300), np.logspace(-3, math.log10(amax), 300)])
    tau = np.concatenate([np.logspace(-4, -0.05, 120), 1 - np.logspace(-1.3, -6, 60)])
    with np.errstate(all="ignore"):
        pa = np.abs(act.phi(a))
        pta = np.abs(act.phi(np.outer(tau, a)))
        q = (np.log(pta) - np.log(pa)[None, :]) / np.log(tau)[:, None]
        q1 = a * act.dphi(a) / act.phi(a)  # the limit tau -> 1
    ok = np.isfinite(q)
    return a, tau, q, ok, q1


def scaling_exponents(act, amax: float = 30.0) -> ScalingResult:
    """r1 = sup q, r2 = inf q over the grid (module docstring); unbounded growth over |a| <= amax -> None."""
    a, tau, q, ok, q1 = _q_grid(act, amax)
    _, _, qh, okh, q1h = _q_grid(act, amax / 2)
    if not ok.any():
        return ScalingResult(None, None, None, None, "phi vanishes on the grid", "phi vanishes on the grid")
    qm = np.where(ok, q, np.nan)
    qmh = np.where(okh, qh, np.nan)
    f1 = np.isfinite(q1)
    hi_full = max(np.nanmax(qm), np.nanmax(np.where(f1, q1, np.nan)))
    lo_full = min(np.nanmin(qm), np.nanmin(np.where(f1, q1, np.nan)))
    hi_half = max(np.nanmax(qmh), np.nanmax(np.where(np.isfinite(q1h), q1h, np.nan)))
    lo_half = min(np.nanmin(qmh), np.nanmin(np.where(np.isfinite(q1h), q1h, np.nan)))
    i, j = np.unravel_index(np.nanargmax(qm), qm.shape)
    k, m = np.unravel_index(np.nanargmin(qm), qm.shape)
    r1_at, r2_at = (float(a[j]), float(tau[i])), (float(a[m]), float(tau[k]))
    if f1.any() and np.nanmax(q1[f1]) >= qm[i, j]:
        r1_at = (float(a[f1][np.argmax(q1[f1])]), 1.0)
    if f1.any() and np.nanmin(q1[f1]) <= qm[k, m]:
        r2_at = (float(a[f1][np.argmin(q1[f1])]), 1.0)
    r1, r2, w1, w2 = float(hi_full), float(lo_full), None, None
    if hi_full > hi_half + 0.25:
        r1, w1 = None, (f"no finite r1: sup q grows with |a| ({hi_half:.3g} for |a| <= {amax / 2:g}, "
                        f"{hi_full:.3g} for |a| <= {amax:g})")
    if lo_full < lo_half - 0.25:
        r2, w2 = None, (f"no finite r2: inf q decreases without bound as |a| grows ({lo_half:.3g} for |a| <= "
                        f"{amax / 2:g}, {lo_full:.3g} for |a| <= {amax:g}); the scaling property of Theorem 3 fails")
    return ScalingResult(r1, r2, r1_at if r1 is not None else None, r2_at if r2 is not None else None, w1, w2)


@functools.lru_cache(maxsize=32)
def _cached_constants(key, act, imax, exact, symbolic):
    # the symbolic steps run in children at once, while the numeric ones run here
    sym = symbolic and act.smooth
    c1 = _Child(_sympy_critical, (act.d2, SEARCH_L), SOLVE_TIMEOUT) if sym else None
    c2 = _Child(_sympy_critical, (act.d3, SEARCH_L), SOLVE_TIMEOUT) if sym else None
    why = "not requested"
    if exact is None:
        exact, why = _want_exact(act)
    ch = _exact_child(act, imax) if exact else None
    sc = scaling_exponents(act)
    herm = hermite_coefficients(act, imax, exact=bool(exact), child=ch)
    if not exact:
        herm.exact_reason = why
    return {"d1": derivative_sup(act, 1, symbolic=sym, child=c1),
            "d2": derivative_sup(act, 2, symbolic=sym, child=c2) if act.smooth else None,
            "hermite": herm, "scaling": sc}


def activation_constants(act, imax: int = 6, exact: bool | None = None, symbolic: bool = True) -> dict:
    """``{"d1": SupResult, "d2": SupResult or None, "hermite": HermiteResult, "scaling": ScalingResult}``,
    cached per expression (the symbolic steps cost seconds; they run in parallel children under time limits)."""
    return _cached_constants(str(act.expr) + "|" + act.name, act, imax, exact, symbolic)
