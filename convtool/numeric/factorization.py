"""Du, Hu & Lee's matrix factorization results along two-layer runs with ``--loss factorization``.

``f(U, V) = 1/2 ||U V^T - M*||_F^2`` is the two-layer model ``W = W1 W2^T`` with ``U = W1`` (d1 x r),
``V = W2`` (d2 x r), r the factorization width h, and ``M* = Y`` (FactorizationLoss). The pieces, used by
the balancedness theory (:class:`~convtool.numeric.theories.balanced.Balanced`) when it sees this setting:

* Theorem 3.1 / Appendix B.1: :func:`mf_preconditions` on the actual init (``eps < ||M*||_F``,
  ``||U_0||_F^2, ||V_0||_F^2 <= eps``, ``||D_0||_F <= eps/2``, and rank(M*) = r), the step constant of the
  ``duhulee`` schedule (:func:`duhulee_c_eta`: the printed ``sqrt(eps/r)/(100 ||M*||_F^(3/2))``, or with
  ``delta`` the derived footnote-11 constant), Lemma 3.1's three claims and eq. 13's bounds along the run
  (:func:`mf_records`), ``tau_T = sum eta_t``;
* Appendix B.3: :func:`procrustes` distance to the balanced optimum ``(U*, V*) = (Phi Sigma^(1/2), Psi Sigma^(1/2))``
  and the strict-saddle certificate of Lemma 3.2 (:func:`saddle_certificate`, Hessian form (12) at the
  Procrustes direction Delta against ``-||M - M*||_F^2 + eps^2/2``);
* Theorem 3.2 / Appendix C (rank 1): the state (alpha, beta, alpha_perp, beta_perp, h, xi) from the iterates
  and from the exact recurrences (23)-(24) (:func:`rank1_state`, :func:`rank1_recurrence`), the init
  conditions (:func:`rank1_init_conditions`), stage 1 against Lemma C.1 and the rate (:func:`rank1_summary`).

Formulas with a paper equation are evaluated from the registry (paper ``"du-hu-lee"``).

Checked against the reading notes (tests/test_balanced_factorization.py):

* Claim B.1's printed ``U_t^T R_t^T R_t U_t`` is ``U_t^T R_t R_t^T U_t`` (as the notes say; verified);
  the notes' derived eq. 13 slack ``eps/2 + 0.00658 eps/sqrt(r)``, the rank-1 residual identity, (23)-(24)
  (with ``eta_1 -> eta``), the footnote-11 constant, the "observed rate 1 - c_step" (0.89999 at c_step = 0.1)
  check out.
* **Wrong in the notes** (Sec. 1.4): "taking Delta_U = 0 shows lambda_max >= sigma_max(V)^2". With
  Delta_U = 0 the form (12) at an optimum is ``||U Delta_V^T||_F^2``, whose maximum is ``sigma_max(U)^2``;
  ``sigma_max(V)^2`` needs Delta_V = 0. The conclusion (no uniform smoothness under rescaling) stands.
* Readings: r is the factor width h (Theorem 3.1 has r = rank(M*); a mismatch is a failed precondition);
  App. C's init checks use ``xi_0 <= 100 c_init^2 sigma_1`` (the proof's form, notes item 14) with c_init
  estimated from the sampled init (``std sqrt(d/sigma_1)``, the std reading of item 18) and c_step read back
  from the step (``eta sigma_1``); "stationary" for Lemma 3.2 means ``||grad f||_F <= 1e-8 ||M*||_F^(3/2)``.

Examples
--------
>>> import numpy as np
>>> M = np.diag([3.0, 2.0, 0.0])
>>> U0 = V0 = 0.01 * np.eye(3)[:, :2]
>>> [c["ok"] for c in mf_preconditions(M, U0, V0, eps=1.0, r=2)]
[True, True, True, True, True]
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError

__all__ = ["mf_target", "mf_preconditions", "duhulee_c_eta", "procrustes", "saddle_certificate", "hessian_form",
           "rank1_state", "rank1_recurrence", "rank1_init_conditions", "rank1_summary", "PAPER_C1", "run_two_layer",
           "factorization_constants"]

_P = "du-hu-lee"
#: c_1 = 1/80008: the explicit choice that makes every "sufficiently small" step of App. C hold (notes Sec. 3.4,
#: derived from the worst stage-1 ratio 1/100 at alpha^2 + beta^2 = sigma_1/2)
PAPER_C1 = 1.0 / 80008


def _ev(name: str, **vals):
    from convtool.analysis.evaluate import compiled

    f = compiled(name, paper=_P)
    return np.asarray(f(*[vals[a] for a in f.argnames]), dtype=float)


def mf_target(loss, R: int) -> np.ndarray:
    """M* (R, d1, d2) of a factorization loss (``Wstar``), one per seed."""
    M = np.asarray(loss.Wstar, dtype=float)
    return np.broadcast_to(M, (R,) + M.shape[-2:]) if M.ndim == 2 else M


def _rank(M) -> int:
    s = np.linalg.svd(M, compute_uv=False)
    return int(np.sum(s > max(M.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0))) if s.size else 0


def mf_preconditions(M, U0, V0, eps: float, r: int) -> list:
    """Appendix B.1's conditions at t = 0 (and Theorem 3.1's ``0 < eps < ||M*||_F``, rank(M*) = r), as dicts
    ``name, value, ok, reference`` (one seed)."""
    Mf = float(np.linalg.norm(M))
    u2, v2 = float(np.sum(U0 * U0)), float(np.sum(V0 * V0))
    D0 = float(np.linalg.norm(U0.T @ U0 - V0.T @ V0))
    rk = _rank(M)
    return [
        {"name": "0 < eps < ||M*||_F", "value": f"eps = {eps!r}, ||M*||_F = {Mf!r}", "ok": bool(0 < eps < Mf),
         "reference": "Theorem 3.1"},
        {"name": "rank(M*) = r (factor width)", "value": f"rank {rk}, r = {r}", "ok": rk == r,
         "reference": "eq. (8)"},
        {"name": "||U_0||_F^2 <= eps", "value": repr(u2), "ok": bool(u2 <= eps), "reference": "Appendix B.1"},
        {"name": "||V_0||_F^2 <= eps", "value": repr(v2), "ok": bool(v2 <= eps), "reference": "Appendix B.1"},
        {"name": "||U_0^T U_0 - V_0^T V_0||_F <= eps/2", "value": repr(D0), "ok": bool(D0 <= eps / 2),
         "reference": "Appendix B.1"},
    ]


def duhulee_c_eta(M_fro, r, eps, delta=None, D0_fro=None):
    """The constant c_eta of ``eta_t = c_eta (t+1)^-(1/2 + delta)``: Theorem 3.1's printed
    ``sqrt(eps/r)/(100 ||M*||_F^(3/2))`` (delta None, i.e. 1/2), or the derived footnote-11 constant
    ``c_eta_delta`` (needs ``||D_0||_F < eps``; InputError otherwise)."""
    if delta is None:
        return _ev("c_eta_thm31", epsilon=eps, r_rank=r, M_fro=M_fro)
    from scipy.special import zeta

    D0 = np.asarray(D0_fro, dtype=float)
    if np.any(D0 >= eps):
        raise InputError(f"the footnote-11 step constant (--delta) needs ||D_0||_F < eps; ||D_0||_F = "
                         f"{float(np.max(D0))!r} >= eps = {eps!r}")
    return _ev("c_eta_delta", epsilon=eps, r_rank=r, M_fro=M_fro, D0_fro=D0, zeta_1p2d=float(zeta(1 + 2 * delta)))


def balanced_optimum(M, r: int):
    """``U* = Phi Sigma^(1/2)``, ``V* = Psi Sigma^(1/2)`` of the top-r SVD of M* (Appendix B.3)."""
    P, S, Qt = np.linalg.svd(M, full_matrices=False)
    s = np.sqrt(S[:r])
    return P[:, :r] * s, Qt[:r].T * s


def procrustes(U, V, M, r: int):
    """``(distance, Delta_U, Delta_V)``: ``min_R orth ||W - W* R||_F`` for ``W = (U; V)``, ``W* = (U*; V*)``
    (App. B.3), with W* zero-padded to U's width when r < h (and W when h < r)."""
    Us, Vs = balanced_optimum(M, r)
    W = np.vstack([U, V])
    Ws = np.vstack([Us, Vs])
    k = max(W.shape[1], Ws.shape[1])
    W = np.pad(W, ((0, 0), (0, k - W.shape[1])))
    Ws = np.pad(Ws, ((0, 0), (0, k - Ws.shape[1])))
    P, _, Qt = np.linalg.svd(Ws.T @ W)
    Delta = W - Ws @ (P @ Qt)
    d1 = U.shape[0]
    return float(np.linalg.norm(Delta)), Delta[:d1, : U.shape[1]], Delta[d1:, : U.shape[1]]


def hessian_form(U, V, M, DU, DV) -> float:
    """Eq. (12): ``2 <U V^T - M*, DU DV^T> + ||U DV^T + DU V^T||_F^2``."""
    R = U @ V.T - M
    return float(2 * np.sum(R * (DU @ DV.T)) + np.sum((U @ DV.T + DU @ V.T) ** 2))


def saddle_certificate(U, V, M, eps: float, grad_norm: float, stat_tol: float) -> dict:
    """Lemma 3.2 at the final point: if it is stationary (``||grad f||_F <= stat_tol``) and balanced within eps,
    either ``||U V^T - M*||_F <= eps`` or the Hessian form at the Procrustes direction is
    ``<= -||M - M*||_F^2 + eps^2/2 < 0`` (a strict saddle)."""
    res = float(np.linalg.norm(U @ V.T - M))
    out = {"residual_fro": res, "grad_norm": grad_norm}
    if grad_norm > stat_tol:
        out["note"] = (f"not stationary at the end (||grad f||_F = {grad_norm!r} > {stat_tol!r}): Lemma 3.2 concerns "
                       f"stationary points")
        return out
    if res <= eps:
        out["note"] = f"stationary with ||U V^T - M*||_F = {res!r} <= eps: the benign alternative of Lemma 3.2"
        return out
    r = U.shape[1]
    _, DU, DV = procrustes(U, V, M, min(r, _rank(M)) or 1)
    form = hessian_form(U, V, M, DU, DV)
    bound = -res ** 2 + 0.5 * eps ** 2
    out.update(hessian_form=form, bound=bound)
    out["note"] = (f"stationary, ||U V^T - M*||_F = {res!r} > eps: Hessian form (12) at Delta = {form!r} "
                   f"{'<=' if form <= bound * (1 - 1e-9) + 1e-12 * abs(bound) else '>'} bound {bound!r}"
                   + ("; strict saddle certified" if form < 0 else ""))
    return out


# ------------------------------------------------------------------ rank 1 (Section 3.2, Appendix C)

def rank1_state(u, v, us, vs, sigma1) -> dict:
    """``alpha = u^T u*``, ``beta = v^T v*``, ``alpha_perp = ||u - alpha u*||``, ``beta_perp``,
    ``h = alpha beta - sigma_1``, ``xi = alpha_perp^2 + beta_perp^2`` (App. C), batched over leading axes."""
    a = np.einsum("...i,...i->...", u, us)
    b = np.einsum("...i,...i->...", v, vs)
    ap = np.linalg.norm(u - a[..., None] * us, axis=-1)
    bp = np.linalg.norm(v - b[..., None] * vs, axis=-1)
    return {"alpha": a, "beta": b, "alpha_perp": ap, "beta_perp": bp, "h": a * b - sigma1, "xi": ap ** 2 + bp ** 2}


def rank1_recurrence(s: dict, eta, sigma1) -> dict:
    """One step of the exact recurrences (23) and (24) from the state ``s`` (the beta update's ``eta_1`` read as
    ``eta``, notes item 13)."""
    a, b, ap, bp, h = s["alpha"], s["beta"], s["alpha_perp"], s["beta_perp"], s["h"]
    fa = 1 - eta * (b ** 2 + bp ** 2)
    fb = 1 - eta * (a ** 2 + ap ** 2)
    h1 = (1 - eta * (a ** 2 + b ** 2) + eta ** 2 * (a * b * h + a ** 2 * bp ** 2 + b ** 2 * ap ** 2
                                                      + ap ** 2 * bp ** 2)) * h \
        - eta * a * b * s["xi"] + eta ** 2 * sigma1 * ap ** 2 * bp ** 2
    return {"alpha": fa * a + eta * sigma1 * b, "beta": fb * b + eta * sigma1 * a, "alpha_perp": np.abs(fa) * ap,
            "beta_perp": np.abs(fb) * bp, "h": h1, "xi": fa ** 2 * ap ** 2 + fb ** 2 * bp ** 2}


def rank1_init_conditions(s0: dict, sigma1: float, d: int, c_init: float) -> list:
    """Appendix C's initialization event on the sampled init (after the sign flip of footnote 12)."""
    lo, hi = 0.1 * c_init * np.sqrt(sigma1 / d), 10 * c_init * np.sqrt(sigma1 / d)
    a, b = float(s0["alpha"]), float(s0["beta"])
    c_init = float(c_init)
    return [
        {"name": "|alpha_0|, |beta_0| in [0.1, 10] c_init sqrt(sigma_1/d)",
         "value": f"{abs(a)!r}, {abs(b)!r} in [{float(lo)!r}, {float(hi)!r}]", "ok": bool(lo <= abs(a) <= hi and lo <= abs(b) <= hi)},
        {"name": "xi_0 <= 100 c_init^2 sigma_1 (the proof's form; notes item 14)",
         "value": f"{float(s0['xi'])!r} <= {float(100 * c_init ** 2 * sigma1)!r}", "ok": bool(s0["xi"] <= 100 * c_init ** 2 * sigma1)},
        {"name": "alpha_0 beta_0 > 0", "value": repr(a * b), "ok": bool(a * b > 0)},
    ]


def rank1_summary(traj: dict, eta: np.ndarray, sigma1: float, c_step: float, loss: np.ndarray) -> dict:
    """Stage 1 against Lemma C.1, the ratio windows, c_1 empirical, the observed local rate (one seed)."""
    from convtool.numeric.engine import observed_rate

    a, b = traj["alpha"], traj["beta"]
    T = a.size - 1
    ss = a ** 2 + b ** 2
    hit = np.flatnonzero(ss >= sigma1 / 2)
    T1 = int(hit[0]) if hit.size else None
    out = {"T1": T1}
    if a[0] + b[0] > 0:
        out["T1_bound"] = float(_ev("T1_bound", sigma_1=sigma1, ab0_sum=float(a[0] + b[0]), c_step=c_step))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / b
    fin = ratio[np.isfinite(ratio)]
    out["ratio_min"] = float(fin.min()) if fin.size else None
    out["ratio_max"] = float(fin.max()) if fin.size else None
    windows = []
    stop = T1 if T1 is not None else T
    if stop > 0:
        s = a + b
        g = s[1: stop + 1] / s[:stop]
        ok = np.all((g >= 1 + c_step / 3 - 1e-12) & (g <= 1 + c_step + 1e-12))
        windows.append({"name": "Lemma C.1 (iii): (1 + c_step/3) <= (alpha+beta)_(t+1)/(alpha+beta)_t <= 1 + c_step, "
                                "t < T_1", "value": f"[{float(g.min())!r}, {float(g.max())!r}]",
                        "held": "yes" if ok else "NO"})
        rw = ratio[:stop]
        okr = np.all((rw >= 1 / 100) & (rw <= 100))
        windows.append({"name": "Lemma C.1 (iv): alpha_t/beta_t in [1/100, 100], t < T_1",
                        "value": f"[{float(rw.min())!r}, {float(rw.max())!r}]", "held": "yes" if okr else "NO"})
    if T1 is not None:
        c1e = float(min(a[T1], b[T1]) ** 2 / (4 * sigma1))
        out["c1_empirical"] = c1e
        tail = ratio[T1:]
        for c1, label in ((PAPER_C1, "paper c_1"), (c1e, "empirical c_1")):
            okw = bool(np.all((tail >= c1) & (tail <= 1 / c1)))
            windows.append({"name": f"stage 2: alpha_t/beta_t in [c_1, 1/c_1], {label} = {c1!r}",
                            "value": f"[{float(tail.min())!r}, {float(tail.max())!r}]", "held": "yes" if okw else "NO"})
        out["guaranteed_rate_empirical"] = float(_ev("rate_C2", c1_const=c1e, c_step=c_step))
    out["guaranteed_rate_paper"] = float(_ev("rate_C2", c1_const=PAPER_C1, c_step=c_step))
    rate = observed_rate(loss)
    out["observed_rate"] = None if rate is None else float(np.sqrt(rate))  # ||.||_F = sqrt(2 f)
    out["observed_rate_note"] = "fit of ||u v^T - M*||_F; notes: about 1 - c_step"
    out["windows"] = windows
    return out


# ------------------------------------------------------------------ the two-layer run with this paper attached

def run_two_layer(loss, W1, W2, *, balanced: dict | None = None, **kwargs):
    """:func:`convtool.numeric.engine.run_gd` with Du, Hu & Lee's theory attached next to the local-PL one
    (whose records it leaves unchanged: the balancedness theory only reads the state); ``balanced`` holds the
    :class:`~convtool.numeric.theories.balanced.Balanced` options (``record_neurons``, ``eps``), ``kwargs``
    are ``run_gd``'s."""
    from convtool.numeric.engine import run_gd
    from convtool.numeric.theories.balanced import Balanced

    return run_gd(loss, W1, W2, extra_theories=[Balanced(**(balanced or {}))], **kwargs)


def factorization_constants(M, U0, V0, eps=None, delta=None, c_step=None) -> dict:
    """Theorem 3.1's preconditions and schedule constants (and Theorem 3.2's step for a rank-1 target of width 1)
    for one instance: what ``convtool constants --loss factorization`` shows."""
    from math import pi

    M, U0, V0 = (np.asarray(a, dtype=float) for a in (M, U0, V0))
    r = int(U0.shape[1])
    s = np.linalg.svd(M, compute_uv=False)
    Mf = float(np.linalg.norm(M))
    rk = _rank(M)
    D0 = float(np.linalg.norm(U0.T @ U0 - V0.T @ V0))
    out = {"M_fro": Mf, "r": r, "rank_M": rk, "sigma_1": float(s[0]), "sigma_r": float(s[min(r, s.size) - 1]),
           "U0_sq": float(np.sum(U0 * U0)), "V0_sq": float(np.sum(V0 * V0)), "D0_fro": D0, "eps": eps,
           "beta_B2": float(_ev("beta_B2", r_rank=r, M_fro=Mf)), "delta": delta}
    if eps is None:
        out["not_applicable"] = "no eps given (--eps): Theorem 3.1's accuracy 0 < eps < ||M*||_F"
        out["preconditions"] = []
    else:
        out["preconditions"] = mf_preconditions(M, U0, V0, float(eps), r)
        bad = [c["name"] for c in out["preconditions"] if not c["ok"]]
        out["not_applicable"] = ("precondition fails: " + "; ".join(bad)) if bad else None
        c_paper = float(duhulee_c_eta(Mf, r, float(eps)))
        out["c_eta_thm31"] = c_paper
        out["eta0_times_beta"] = c_paper * out["beta_B2"]
        out["eq13_slack_derived"] = float(_ev("bound_D_eq13", D0_fro=D0, r_rank=r, M_fro=Mf,
                                              sum_eta_sq=c_paper ** 2 * pi ** 2 / 6))  # sum_t (t+1)^-2 = pi^2/6
        if delta is not None:
            try:
                out["c_eta_delta"] = float(duhulee_c_eta(Mf, r, float(eps), float(delta), D0))
            except InputError as exc:
                out["c_eta_delta"] = None
                out["c_eta_delta_reason"] = str(exc)
    if c_step is not None:
        if rk == 1 and r == 1:
            out["eta_rank1"] = float(_ev("eta_rank1", c_step=float(c_step), sigma_1=float(s[0])))
        else:
            out["eta_rank1_reason"] = f"Theorem 3.2 needs rank(M*) = 1 and width 1; rank {rk}, width {r}"
    return out
