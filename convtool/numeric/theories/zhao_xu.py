"""Zhao & Xu's theory of deep linear networks along a run (paper key ``"zhao-xu"``).

With a :class:`~convtool.numeric.deep_linear.DeepLinear` model and the squared loss
(:class:`~convtool.numeric.losses.SquaredLoss`, ``1/2 ||XW - Y||_F^2``, samples as rows; Example 1's
``(1/M) ||.||^2`` is :class:`ScaledLoss` with ``s = 2/M``) the theory records, per state t:

* ``E_cvx``: the excess loss of the corresponding convex GD (notes 1.5) ``W(t+1) = W(t) - eta_* grad L(W(t))``
  from ``W(0) = a_N W_{N:1}(0)`` with ``eta_* = N eta_t / n_N``, computed alongside (the engine's ``loss``
  is E_DLN(t));
* ``dist_X_sq = ||V(t) - W(t)||_X^2`` (V the DLN's end-to-end matrix), ``dln_X_sq = ||V(t) - W*||_X^2``,
  ``cvx_X_sq = ||W(t) - W*||_X^2``;
* ``p_lo``, ``p_hi`` (:func:`~convtool.numeric.deep_linear.P_spectrum`) every step when ``n_N r <= 500``,
  else every ``spectrum_every`` steps (NaN in between; the method in ``extra["spectrum_method"]``);
* ``drift_j = ||W_j(t) - W_j(0)||_F`` per layer and ``saddle_margin`` (every ``saddle_every`` steps);

per step t: ``tau_hat`` (Lemma 4's residual ratio, :func:`~convtool.numeric.deep_linear.residual_ratio`),
``eta_star``, ``q`` (eq. 10 at eta_*), and the checks

=========== ============================================================ ==================================
check       held when (state t+1)                                        applies when
=========== ============================================================ ==================================
cvx_q       ``||W(t+1) - W*||_X^2 <= q ||W(t) - W*||_X^2``                ``eta_* < 2/beta``
lemma5      ``||V(t+1) - W*||_X^2 <= (q + 7 tau)^(t+1) ||V(0) - W*||_X^2`` ``q + 7 tau < 1``
thm2        ``||V(t+1) - W(t+1)||_X^2 <= D_R(t+1) ||V(0) - W*||_X^2``     ``q + 7 tau < 1``
thm1        ``E_DLN(t+1) <= (1 - (1 - eps)/kappa) E_DLN(t)``              ``width_ok`` and ``eta_* = 1/beta``
=========== ============================================================ ==================================

with ``tau = max tau_hat(s), s <= t`` and q the largest q so far (for a constant step, q itself). The
formulas q, D_R, rate_thm1 are evaluated from the symbolic registry (``convtool.analysis``, paper
``"zhao-xu"``). "Held" allows ``RTOL_HELD`` relative plus a rounding band: a squared distance d computed
from iterates with error delta gets ``2 sqrt(d) delta + delta^2``, the loss ``sqrt(2 beta E) delta +
beta delta^2 / 2``, with ``delta = 64 eps (||A||_F + ||W*||_F)`` for the convex iterate and ``N`` times
that for the DLN product (a relative estimate, not a proven bound as for the two-layer model).
"""

from __future__ import annotations

import numpy as np

from convtool.analysis.evaluate import compiled
from convtool.errors import InputError
from convtool.numeric.deep_linear import (DeepLinear, P_spectrum, residual_ratio, saddle_margin,
                                          x_seminorm_sq)
from convtool.numeric.losses import Loss, SquaredLoss
from convtool.numeric.theories.base import EPS, RTOL_HELD, Check, Observation, RunContext, Theory

__all__ = ["ZhaoXu", "ScaledLoss", "THM1_NOT_MET"]

THM1_NOT_MET = "width condition n_min >= C*C1*N not met"
_PAPER = "zhao-xu"


class ScaledLoss(Loss):
    """``s * base``: Example 1's ``(1/M) ||XW - Y||_F^2`` is ``ScaledLoss(SquaredLoss(X, Y), 2 / M)``."""

    def __init__(self, base: Loss, scale: float):
        scale = float(scale)
        if not (np.isfinite(scale) and scale > 0):
            raise InputError(f"loss scale must be a positive number, got {scale!r}")
        self.base, self.scale = base, scale
        self.name = f"{scale:g} x {base.name}"
        self.n, self.m = base.n, base.m
        self.mu, self.K = scale * base.mu, scale * base.K
        self.Wstar, self.lstar = base.Wstar, scale * base.lstar
        self.X = getattr(base, "X", None)

    def excess(self, W):
        return self.scale * np.asarray(self.base.excess(W))

    def grad(self, W):
        return self.scale * np.asarray(self.base.grad(W))


def _squared_parts(loss):
    """(X, s) of a squared loss or a scaled one; InputError otherwise."""
    s = 1.0
    if isinstance(loss, ScaledLoss):
        loss, s = loss.base, loss.scale
    if not isinstance(loss, SquaredLoss) or getattr(loss, "X", None) is None or np.ndim(loss.X) != 2:
        raise InputError("the zhao-xu theory needs the squared loss 1/2 ||XW - Y||_F^2 (SquaredLoss, or "
                         "ScaledLoss of one) with one X for the batch")
    return np.asarray(loss.X, dtype=float), s


def _fro(A):
    return np.sqrt(np.sum(A * A, axis=(-2, -1)))


class ZhaoXu(Theory):
    """Lemma 5, Theorem 2 (with the proof's D_R), the convex q contraction and Theorem 1 along a DLN run.

    Parameters
    ----------
    width_ok : bool
        Whether Theorem 1's width condition holds (computed by the caller); default False, and the
        check is then not applicable with the reason :data:`THM1_NOT_MET`.
    eps : float
        Theorem 1's slack, 0 < eps < 1/2.
    spectrum_every, saddle_every : int
        Cadence of ``p_lo, p_hi`` when ``n_N r > dense_max`` (every step otherwise), and of ``saddle_margin``.
    dense_max : int
        :func:`P_spectrum`'s dense limit (500).
    """

    key = "zhao-xu"
    reference = "Zhao & Xu (TMLR 2024), Lemma 5, Theorems 1, 2"
    step_keys = ("tau_hat",)

    def __init__(self, width_ok: bool = False, eps: float = 0.1, spectrum_every: int = 10, saddle_every: int = 1,
                 dense_max: int = 500, width_reason: str | None = None):
        if not 0 < eps < 0.5:
            raise InputError(f"zhao-xu: eps must lie in (0, 1/2) (Theorem 1), got {eps!r}")
        for name, v in (("spectrum_every", spectrum_every), ("saddle_every", saddle_every)):
            if int(v) != v or v < 1:
                raise InputError(f"zhao-xu: {name} must be a positive integer, got {v!r}")
        self.width_ok, self.eps = bool(width_ok), float(eps)
        self.width_reason = width_reason or THM1_NOT_MET
        self.spectrum_every, self.saddle_every, self.dense_max = int(spectrum_every), int(saddle_every), int(dense_max)
        self.checks = (
            Check("cvx_q", "cvx_q_applies", "cvx_q_held", "eq. (10), Lemma 5 with tau = 0",
                  "convex GD: ||W(t+1) - W*||_X^2 <= q ||W(t) - W*||_X^2"),
            Check("lemma5", "lemma5_applies", "lemma5_held", "Lemma 5",
                  "||V(t) - W*||_X^2 <= (q + 7 tau)^t ||V(0) - W*||_X^2"),
            Check("thm2", "thm2_applies", "thm2_held", "Theorem 2 (12a) with D_R (notes 3.4)",
                  "||V(t) - W(t)||_X^2 <= D_R(t) ||V(0) - W*||_X^2"),
            Check("thm1", "thm1_applies", "thm1_held", "Theorem 1",
                  "E_DLN(t+1) <= (1 - (1 - eps)/kappa) E_DLN(t)", None if self.width_ok else self.width_reason),
        )

    def warm_up(self) -> None:
        for name in ("q", "D_R", "rate_thm1", "alpha", "beta", "kappa"):
            compiled(name, paper=_PAPER)

    # -- before the loop ----------------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> dict:
        model = ctx.model
        if not isinstance(model, DeepLinear):
            raise InputError(f"the zhao-xu theory applies to the deep linear model, not {type(model).__name__}")
        parts = [_squared_parts(L) for L in ctx.losses]
        X, s = parts[0]
        if any(p[0] is not X and not np.array_equal(p[0], X) for p in parts) or any(p[1] != s for p in parts):
            raise InputError("the zhao-xu theory needs one X and one loss scale for the whole batch")
        from convtool.numeric.dln_constants import _svd_data  # the constants' own spectra of X (SVD, not X^T X)

        self.U, self.r, lam_max, lam_min_pos = _svd_data(X)
        vals = {"loss_scale": s, "lambda_min_pos": lam_min_pos, "lambda_max": lam_max}
        self.alpha = float(compiled("alpha", paper=_PAPER)(*[vals[a] for a in compiled("alpha", paper=_PAPER).argnames]))
        self.beta = float(compiled("beta", paper=_PAPER)(*[vals[a] for a in compiled("beta", paper=_PAPER).argnames]))
        self.kappa = self.beta / self.alpha
        self.model, self.loss, self.R = model, ctx.loss, ctx.R
        self.N, self.n_N = model.N, model.widths[-1]
        self.Wstar = np.asarray(ctx.loss.Wstar, dtype=float)
        self.Wstar_fro = _fro(self.Wstar)
        self.spec_dense = self.n_N * self.r <= self.dense_max
        self.spectrum_method = None
        self.state_keys = ("E_cvx", "dist_X_sq", "dln_X_sq", "cvx_X_sq", "V_fro", "Wc_fro", "p_lo", "p_hi",
                           "saddle_margin") + tuple(f"drift_{j}" for j in range(1, self.N + 1))
        self._Wc = None
        self._prev = None
        R = ctx.R
        self._consts = [{"alpha": self.alpha, "beta": self.beta, "kappa": self.kappa, "loss_scale": s,
                         "lambda_min_pos": lam_min_pos, "lambda_max": lam_max, "rank_X": self.r, "N": self.N,
                         "n_N": self.n_N, "widths": list(model.widths)} for _ in range(R)]
        steps = {}
        for name in ("eta_thm1", "eta_cor3"):  # the thm1 / cor3 schedules read them (convtool.numeric.schedules)
            f = compiled(name, paper=_PAPER)
            steps[name] = float(f(*[{"N": self.N, "n_N": self.n_N, "alpha": self.alpha, "beta": self.beta}[k]
                                    for k in f.argnames]))
        for c in self._consts:
            c.update(steps)
        return {"alpha": np.full(R, self.alpha), "beta": np.full(R, self.beta),
                **{k: np.full(R, v) for k, v in steps.items()}}

    # -- in the loop --------------------------------------------------------------------------------
    def observe(self, t: int, obs: Observation):
        V = obs.W
        if self._Wc is None:
            self._Wc = V.copy()
        Wc, U, Ws = self._Wc, self.U, self.Wstar
        R = self.R
        vals = {"E_cvx": np.asarray(self.loss.excess(Wc), dtype=float).reshape(R),
                "dist_X_sq": x_seminorm_sq(V - Wc, U), "dln_X_sq": x_seminorm_sq(V - Ws, U),
                "cvx_X_sq": x_seminorm_sq(Wc - Ws, U), "V_fro": _fro(V), "Wc_fro": _fro(Wc)}
        if self.spec_dense or t % self.spectrum_every == 0:
            vals["p_lo"], vals["p_hi"], self.spectrum_method = P_spectrum(obs.state, U, dense_max=self.dense_max)
        if t % self.saddle_every == 0:
            sm = saddle_margin(obs.state)
            if sm is not None:
                vals["saddle_margin"] = sm
        drift = self.model.drift(obs.state)
        for j in range(self.N):
            vals[f"drift_{j + 1}"] = drift[:, j]
        step = {}
        if self._prev is not None:
            Vp, Gp, es = self._prev
            step["tau_hat"] = residual_ratio(Vp, V, Gp, es, Ws, U)
        return vals, step

    def after_step(self, t: int, obs: Observation, eta) -> None:
        es = self.N * np.asarray(eta, dtype=float) / self.n_N
        self._prev = (obs.W, obs.Gl, es)
        self._Wc = self._Wc - es[:, None, None] * self.loss.grad(self._Wc)

    # -- after the loop -----------------------------------------------------------------------------
    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        R, T = rec["eta"].shape
        steps = np.arange(T)[None, :] < nsteps[:, None]
        N, nN, a, b = self.N, self.n_N, self.alpha, self.beta
        eta_star = N * rec["eta"] / nN
        fq = compiled("q", paper=_PAPER)
        q = np.asarray(fq(*[{"alpha": a, "beta": b, "eta_star": eta_star}[k] for k in fq.argnames]), dtype=float)
        q = np.broadcast_to(q, (R, T)).copy()
        rec["eta_star"] = np.where(steps, eta_star, np.nan)
        rec["q"] = np.where(steps, q, np.nan)
        tau_run = np.fmax.accumulate(np.where(steps, rec["tau_hat"], np.nan), axis=1) if T else rec["tau_hat"]
        tau_run = np.where(np.isfinite(tau_run), tau_run, 0.0)
        q_run = np.fmax.accumulate(np.where(steps, q, np.nan), axis=1) if T else q
        rec["tau_run"] = np.where(steps, tau_run, np.nan)
        rate = q_run + 7 * tau_run
        held = 1 + RTOL_HELD
        tp1 = np.arange(1, T + 1, dtype=float)[None, :]
        dV = 64 * EPS * N * (rec["V_fro"] + self.Wstar_fro[..., None] if np.ndim(self.Wstar_fro) else
                             rec["V_fro"] + self.Wstar_fro)
        dC = 64 * EPS * (rec["Wc_fro"] + (self.Wstar_fro[..., None] if np.ndim(self.Wstar_fro) else self.Wstar_fro))

        def band(d, delta):
            d = np.where(np.isfinite(d), d, 0.0)
            return 2 * np.sqrt(d) * delta + delta ** 2

        cvx, dln, dist, E = rec["cvx_X_sq"], rec["dln_X_sq"], rec["dist_X_sq"], rec["loss"]
        ok_eta = steps & (eta_star > 0) & (eta_star < 2 / b) & (a > 0)
        rec["cvx_q_applies"] = ok_eta
        rec["cvx_q_held"] = steps & (cvx[:, 1:] <= q * cvx[:, :-1] * held + band(cvx[:, 1:], dC[:, 1:]))
        bound5 = rate ** tp1 * dln[:, :1]
        rec["lemma5_bound"] = np.where(steps, bound5, np.nan)
        rec["lemma5_applies"] = ok_eta & (rate < 1)
        rec["lemma5_held"] = steps & (dln[:, 1:] <= bound5 * held + band(dln[:, 1:], dV[:, 1:]))
        fD = compiled("D_R", paper=_PAPER)
        DR = np.asarray(fD(*[{"q": q_run, "t": np.broadcast_to(tp1, (R, T)), "tau": tau_run}[k]
                             for k in fD.argnames]), dtype=float)
        bound2 = DR * dln[:, :1]
        rec["thm2_bound"] = np.where(steps, bound2, np.nan)
        rec["thm2_applies"] = ok_eta & (rate < 1) & (q_run > 0) & (q_run < 1)
        rec["thm2_held"] = steps & (dist[:, 1:] <= bound2 * held + band(dist[:, 1:], dV[:, 1:] + dC[:, 1:]))
        fr = compiled("rate_thm1", paper=_PAPER)
        r1 = float(fr(*[{"eps": self.eps, "kappa": self.kappa}[k] for k in fr.argnames]))
        Ep, En = E[:, :-1], E[:, 1:]
        Eband = np.sqrt(2 * b * np.where(np.isfinite(En), En, 0.0)) * dV[:, 1:] + 0.5 * b * dV[:, 1:] ** 2
        rec["thm1_applies"] = steps & self.width_ok & (np.abs(eta_star * b - 1) <= 1e-9)
        rec["thm1_held"] = steps & (En <= r1 * Ep * held + Eband)
        self.rate_thm1 = r1

    # -- results ------------------------------------------------------------------------------------
    def constants(self) -> list:
        return self._consts

    def extra(self) -> dict:
        return {"spectrum_method": self.spectrum_method}

    @staticmethod
    def _thm2_summary(a, steps) -> dict:
        """Theorem 2 (12a) in the run summary, medians over seeds: the observed distance ratio and the bound
        D_R (largest over the steps where it applies; None where it never does)."""
        dist, b = _thm2_ratios(a, steps)
        return {"dist_ratio_max": _nanmedian(dist), "thm2_bound_max": _nanmedian(b),
                "thm2_vacuous": all(x is None for x in b)}

    def summary(self, result) -> dict:
        a = result.arrays
        dist = a["dist_X_sq"]
        last = [dist[r, result.steps[r]] for r in range(result.R)]
        return {"zhao_xu": {"alpha": self.alpha, "beta": self.beta, "kappa": self.kappa,
                            "q": float(np.nanmax(a["q"])) if np.isfinite(a["q"]).any() else None,
                            "tau_max": float(np.nanmax(a["tau_hat"])) if np.isfinite(a["tau_hat"]).any() else None,
                            "dist_X_sq_final": [float(x) for x in last],
                            "dist_X_sq_max": float(np.nanmax(dist)) if np.isfinite(dist).any() else None,
                            "rate_thm1": getattr(self, "rate_thm1", None),
                            "thm1_not_applicable": None if self.width_ok else self.width_reason,
                            "cvx_observed_rate": _median_rate(a["E_cvx"], result.steps),
                            **self._thm2_summary(a, result.steps),
                            "spectrum_method": self.spectrum_method}}


def _nanmedian(vals):
    vals = [v for v in vals if v is not None and np.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _thm2_ratios(a, steps):
    """Per seed: ``max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2`` and the largest D_R(t) where Theorem 2 applies."""
    dist, b = [], []
    for r in range(a["dist_X_sq"].shape[0]):
        st = int(steps[r])
        d0 = a["dln_X_sq"][r, 0]
        dist.append(float(np.nanmax(a["dist_X_sq"][r, : st + 1]) / d0) if d0 > 0 else None)
        app = a["thm2_applies"][r, :st].astype(bool) if st > 0 else np.zeros(0, bool)
        b.append(float(np.nanmax(a["thm2_bound"][r, :st][app]) / d0) if app.any() and d0 > 0 else None)
    return dist, b


def _median_rate(E, steps):
    """Median over seeds of the observed linear rate of the convex run's gap (engine.observed_rate)."""
    from convtool.numeric.engine import observed_rate

    rates = [observed_rate(E[r, : int(steps[r]) + 1]) for r in range(E.shape[0])]
    rates = [x for x in rates if x is not None]
    return float(np.median(rates)) if rates else None
