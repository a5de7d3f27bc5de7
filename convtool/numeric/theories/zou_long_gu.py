"""Zou, Long & Gu's theory of linear ResNets along a GD or SGD run (paper key ``"zou-long-gu"``).

With a :class:`~convtool.numeric.resnet.LinearResNet` and the squared loss (the paper's plain sum
``1/2 ||U X - Y||_F^2``) the theory records, per state t:

* ``w_max = max_l ||W_l(t)||_F`` (against ``R_GD`` and the region 0.5/L), ``round_off`` (the estimated error
  of the computed U, for the rounding bands);
* ``pl_min``, ``pl_max``: ``min_l`` / ``max_l ||grad_l||_F^2 / (L(t) - L*)`` (Lemma A.1's per-layer ratio);
* after the loop ``pred_thm31`` = ``Delta0 prod_{s<t} (1 - rho_s)``, ``rho_s = eta_s L mu_A^2 mu_B^2 sigma_r^2/e``
  (Theorem 3.1's curve, (1 - rho)^t Delta0 for a constant step), ``R_GD_t`` (the proof's finite-t trajectory
  bound), and for SGD ``envelope_thm38`` = ``2 L0 exp(-t rho)`` (A.19);

per step t (transition t -> t+1) the Lemma A.2 terms ``a2_lhs = L(t+1) - L(t)``, ``a2_inner = <grad(t),
W(t+1) - W(t)>``, ``a2_sq = sum_l ||W_l(t+1) - W_l(t)||^2``, and the checks

============ ========================================================= ==========================================
check        held when                                                  applies when
============ ========================================================= ==========================================
thm31        ``L(t+1) - L* <= pred_thm31(t+1)``                         GD, zero init, ResNet, mu > 0,
                                                                        thm31_margin >= 1, eta_s <= eta_thm31_printed
traj         ``w_max(t+1) <= R_GD_t(t+1)`` (proof, Part (i))           thm31 applies and the step is constant
region       ``w_max(t+1) <= 0.5/L``                                    thm31 applies
lemma_a1     ``pl_lower <= pl_min``, ``pl_max <= pl_upper`` (state t)  ``w_max(t) <= 0.5/L`` (Frobenius region)
lemma_a2     ``a2_lhs <= a2_inner + beta(W(t))/2 a2_sq``                both iterates in the region
thm38        ``L(t+1) <= 2 L0 exp(-(t+1) rho)`` (A.19)                   SGD, L* = 0, thm38_margin >= 1, eta <= eta_thm38
thm36_iii    ``L(t+1) <= 2 L0`` while no eps'-optimal iterate yet      SGD, thm36_margin >= 1, eta <= eta_thm36
============ ========================================================= ==========================================

"Held" allows ``RTOL_HELD`` relative plus a rounding band ``sqrt(2 K gap) delta + K delta^2/2`` (K =
||X||_2^2, delta the model's ``round_off``, a relative estimate). Lemma A.1's ratio is compared with a
relative slack ``4 sqrt(kappa) band/gap`` and only where that is below 1e-2 (the gap is then far above the
float floor). The formulas are evaluated from the registry (paper ``"zou-long-gu"``).
"""

from __future__ import annotations

import numpy as np

from convtool.analysis.evaluate import compiled
from convtool.errors import InputError
from convtool.numeric.theories.base import RTOL_HELD, Check, Observation, RunContext, Theory

__all__ = ["ZouLongGu"]

_PAPER = "zou-long-gu"


def _f(name):
    return compiled(name, paper=_PAPER)


def _ev(name, vals):
    """Registry quantity ``name`` from the values given (intermediate quantities evaluated along the way)."""
    from convtool.analysis.evaluate import evaluate

    with np.errstate(all="ignore"):
        return np.asarray(evaluate(vals, targets=[name], paper=_PAPER)[name], dtype=float)


class ZouLongGu(Theory):
    """Theorem 3.1's curve and trajectory, Lemmas A.1 and A.2, and (SGD) Theorems 3.6, 3.8 along a run.

    Parameters
    ----------
    sampler : MinibatchSampler, optional
        The run's stochastic gradient (SGD); None for GD.
    eps, delta : float, optional
        Target accuracy (Theorem 3.6; default 1e-6 Delta0) and failure probability.
    horizon : int, optional
        Theorem 3.8's T (the run's steps).
    """

    key = "zou-long-gu"
    reference = "Zou, Long & Gu (ICLR 2020), Theorems 3.1, 3.6, 3.8, Lemmas A.1, A.2"
    state_keys = ("w_max", "round_off", "pl_min", "pl_max")
    step_keys = ("a2_lhs", "a2_inner", "a2_sq")

    def __init__(self, sampler=None, eps: float | None = None, delta: float = 0.1, horizon: int | None = None,
                 skip: bool = True):
        self.sampler, self.eps, self.delta, self.horizon, self.skip = sampler, eps, float(delta), horizon, bool(skip)
        noskip = None if skip else ("no-skip baseline: Lemmas A.1, A.2 and Theorems 3.1-3.8 are for the ResNet "
                                    "(I + W_l) factors")
        gd_only = noskip or ("SGD run: Theorem 3.1 is for GD" if sampler else None)
        sgd_only = noskip or (None if sampler else "GD run: Theorem 3.8 is for SGD")
        sgd36 = noskip or (None if sampler else "GD run: Theorem 3.6 is for SGD")
        self.checks = (
            Check("thm31", "thm31_applies", "thm31_held", "Theorem 3.1, (A.1)",
                  "L(t) - L* <= (1 - rho)^t (L(W0) - L*)", gd_only),
            Check("traj", "traj_applies", "traj_held", "proof of Theorem 3.1, Part (i)",
                  "max_l ||W_l(t)||_F <= R_GD(t)", gd_only),
            Check("region", "region_applies", "region_held", "proof of Theorem 3.1, Part (i)",
                  "max_l ||W_l(t)||_F <= 0.5/L", gd_only),
            Check("lemma_a1", "lemma_a1_applies", "lemma_a1_held", "Lemma A.1",
                  "pl_lower <= ||grad_l||^2/gap <= pl_upper in the region", noskip),
            Check("lemma_a2", "lemma_a2_applies", "lemma_a2_held", "Lemma A.2",
                  "L(t+1) - L(t) <= <grad, dW> + beta(W(t))/2 ||dW||^2 in the region", noskip),
            Check("thm38", "thm38_applies", "thm38_held", "Theorem 3.8, (A.19)",
                  "L(t) <= 2 L0 exp(-t rho)", sgd_only),
            Check("thm36_iii", "thm36_iii_applies", "thm36_iii_held", "proof of Theorem 3.6, Part (iii)",
                  "L(t) <= 2 L0 before an eps'-optimal iterate", sgd36),
        )

    def warm_up(self) -> None:
        for name in ("R_GD_t", "beta_smooth", "pl_lower", "pl_upper"):
            _f(name)

    # -- before the loop ----------------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> dict:
        from convtool.numeric.losses import SquaredLoss
        from convtool.numeric.resnet import LinearResNet
        from convtool.numeric.resnet_constants import compute_resnet_constants

        model = ctx.model
        if not isinstance(model, LinearResNet):
            raise InputError(f"the zou-long-gu theory applies to the linear ResNet model, not {type(model).__name__}")
        losses = ctx.losses
        if not all(isinstance(L, SquaredLoss) and L is losses[0] for L in losses):
            raise InputError("the zou-long-gu theory needs one squared loss 1/2 ||XW - Y||_F^2 for the whole batch")
        loss = losses[0]
        self.model, self.R, self.L = model, ctx.R, model.L
        R = ctx.R
        same = all(np.array_equal(model.A[r], model.A[0]) and np.array_equal(model.B[r], model.B[0])
                   and np.array_equal(model.W_0[r], model.W_0[0]) for r in range(1, R))
        batch = self.sampler.b if self.sampler is not None else None
        horizon = int(self.horizon) if self.horizon else 1000
        res = []
        for r in range(R):
            if r > 0 and same:
                res.append(res[0])
                continue
            res.append(compute_resnet_constants(loss.X, loss.Y, model.A[r], model.B[r], model.W_0[r],
                                                skip=model.skip, eps=self.eps, delta=self.delta, batch=batch,
                                                steps=horizon))
        self.results = res
        vals = {}
        for key in ("lambda_A", "mu_A", "lambda_B", "mu_B", "sigma_r", "X_norm", "lstar", "L0", "Delta0", "L",
                    "kappa"):
            vals[key] = np.array([c.values[key] for c in res], dtype=float)
        self.vals = vals
        self.eps_v = np.array([c.values["epsilon"] for c in res], dtype=float)

        def q(key):
            return np.array([v if isinstance(v := c.quantities[key], float) else np.nan for c in res], dtype=float)

        self.q = {k: q(k) for k in ("thm31_margin", "eta_thm31", "eta_thm31_printed", "R_GD", "region", "pl_lower",
                                    "pl_upper", "thm36_margin", "eta_thm36", "T_thm36", "thm38_margin", "eta_thm38")}
        self.reasons = {k: res[0].quantities[k].reason for k in ("eta_thm31", "eta_thm36", "eta_thm38")
                        if not isinstance(res[0].quantities[k], float)}
        self.zero_init = np.array([not np.any(model.W_0[r]) for r in range(R)])
        self.K = vals["X_norm"] ** 2
        self._prev = None
        self._consts = [c.to_dict() for c in res]
        return {k: self.q[k] for k in ("eta_thm31", "eta_thm36", "eta_thm38")}

    # -- in the loop --------------------------------------------------------------------------------
    def observe(self, t: int, obs: Observation):
        model = self.model
        norms = obs.cache.get("resnet_norms")
        if norms is None:
            norms = obs.cache["resnet_norms"] = model.layer_norms(obs.state)
        gsq = model.layer_grad_sq(obs.grads)
        gap = obs.loss
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = gap > 0
            pl_min = np.where(pos, gsq.min(axis=1) / gap, np.nan)
            pl_max = np.where(pos, gsq.max(axis=1) / gap, np.nan)
        dlt = model.round_off(obs.state, norms) if model.skip else np.zeros(self.R)  # no-skip: no check uses it
        vals = {"w_max": norms.max(axis=1), "round_off": dlt, "pl_min": pl_min,
                "pl_max": pl_max}
        step = {}
        if self._prev is not None:
            pgap, pgsq, peta, ptt = self._prev
            if self.sampler is not None:
                dot, sq = self.sampler.history[ptt]
                inner, dsq = -peta * dot, peta ** 2 * sq
            else:
                inner, dsq = -peta * pgsq, peta ** 2 * pgsq
            step = {"a2_lhs": gap - pgap, "a2_inner": inner, "a2_sq": dsq}
        self._gap, self._gsq = gap, gsq.sum(axis=1)
        return vals, step

    def after_step(self, t: int, obs: Observation, eta) -> None:
        self._prev = (self._gap, self._gsq, np.asarray(eta, dtype=float), t)

    # -- after the loop -----------------------------------------------------------------------------
    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        R, T = rec["eta"].shape
        steps = np.arange(T)[None, :] < nsteps[:, None]
        v, q = self.vals, self.q
        col = {k: a[:, None] for k, a in v.items()}
        eta = np.where(steps, rec["eta"], np.nan)
        rho = eta * col["L"] * col["mu_A"] ** 2 * col["mu_B"] ** 2 * col["sigma_r"] ** 2 / np.e
        pred = np.empty((R, T + 1))
        pred[:, 0] = v["Delta0"]
        if T:
            pred[:, 1:] = v["Delta0"][:, None] * np.cumprod(1 - np.where(steps, rho, 0.0), axis=1)
        rec["pred_thm31"] = np.where(np.concatenate([np.ones((R, 1), bool), steps], axis=1), pred, np.nan)
        gap = rec["loss"]
        dlt = np.where(np.isfinite(rec["round_off"]), rec["round_off"], 0.0)
        K = self.K[:, None]
        g0 = np.where(np.isfinite(gap), np.maximum(gap, 0.0), 0.0)
        band = np.sqrt(2 * K * g0) * dlt + 0.5 * K * dlt ** 2
        region = q["region"][:, None]
        in_reg = rec["w_max"] <= region * (1 + 1e-12)
        held = 1 + RTOL_HELD
        mu_ok = (v["mu_A"] > 0) & (v["mu_B"] > 0)
        gd = self.sampler is None
        hyp31 = gd & self.model.skip & self.zero_init & mu_ok & (q["thm31_margin"] >= 1)
        eta_ok = np.logical_and.accumulate(np.where(steps, eta <= q["eta_thm31_printed"][:, None] * (1 + 1e-12), True),
                                           axis=1) if T else steps
        app31 = steps & hyp31[:, None] & eta_ok
        rec["thm31_applies"] = app31
        rec["thm31_held"] = steps & (gap[:, 1:] <= pred[:, 1:] * held + band[:, 1:])
        const = steps & (np.abs(eta - eta[:, :1]) <= 1e-15 * np.abs(eta[:, :1])) if T else steps
        const = np.logical_and.accumulate(const | ~steps, axis=1) & steps if T else steps
        tp1 = np.arange(1, T + 1, dtype=float)[None, :]
        vals = {k: col[k] for k in ("lambda_A", "lambda_B", "mu_A", "mu_B", "sigma_r", "X_norm", "L", "Delta0")}
        vals.update(eta=eta[:, :1] if T else np.zeros((R, 1)), t=tp1,
                    lstar=col["lstar"], L0=col["L0"])
        rgd = _ev("R_GD_t", vals) if T else np.zeros((R, 0))
        rec["R_GD_t"] = np.where(steps, np.broadcast_to(rgd, (R, T)), np.nan)
        rec["traj_applies"] = app31 & const
        rec["traj_held"] = steps & (rec["w_max"][:, 1:] <= rgd * held + 1e-14 * region)
        rec["region_applies"] = app31
        rec["region_held"] = steps & in_reg[:, 1:]
        # Lemma A.1 on every state in the region
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(gap > 0, 4 * np.sqrt(col["kappa"]) * band / gap, np.inf)
        alive = np.isfinite(rec["w_max"])
        app_a1 = alive & in_reg & (gap > 0) & (rel < 1e-2) & mu_ok[:, None] & self.model.skip
        slack = rel + RTOL_HELD
        rec["lemma_a1_applies"] = app_a1
        rec["lemma_a1_held"] = alive & (rec["pl_min"] >= q["pl_lower"][:, None] * (1 - slack)) & \
            (rec["pl_max"] <= q["pl_upper"][:, None] * (1 + slack))
        # Lemma A.2 between consecutive iterates
        lw = v["lstar"][:, None] + g0[:, :-1]
        beta = _ev("beta_smooth", {**{k: col[k] for k in ("lambda_A", "lambda_B", "X_norm", "L")}, "LW": lw})
        rhs = rec["a2_inner"] + 0.5 * beta * rec["a2_sq"]
        tol = band[:, :-1] + band[:, 1:] + RTOL_HELD * (np.abs(rec["a2_inner"]) + 0.5 * beta * rec["a2_sq"]
                                                        + g0[:, :-1])
        rec["lemma_a2_applies"] = steps & in_reg[:, :-1] & in_reg[:, 1:] & self.model.skip
        rec["lemma_a2_held"] = steps & (rec["a2_lhs"] <= rhs + tol)
        # SGD: Theorem 3.8's envelope (A.19) and Theorem 3.6's Part (iii)
        rho0 = (eta[:, :1] if T else np.zeros((R, 1))) * col["L"] * col["mu_A"] ** 2 * col["mu_B"] ** 2 * \
            col["sigma_r"] ** 2 / np.e
        env = 2 * col["L0"] * np.exp(-np.arange(T + 1)[None, :] * rho0)
        rec["envelope_thm38"] = np.where(np.isfinite(gap), env, np.nan)
        full = gap + col["lstar"]
        lstar_zero = np.isfinite(q["thm38_margin"])
        eta38_ok = np.logical_and.accumulate(np.where(steps, eta <= q["eta_thm38"][:, None] * (1 + 1e-12), True),
                                             axis=1) if T else steps
        hor = tp1 <= (self.horizon or T)
        rec["thm38_applies"] = steps & (not gd) & self.model.skip & (lstar_zero & (q["thm38_margin"] >= 1) & mu_ok)[:, None] & \
            eta38_ok & const & hor
        rec["thm38_held"] = steps & (full[:, 1:] <= env[:, 1:] * held + band[:, 1:])
        epsp = self.eps_v[:, None] / 3
        reached = np.logical_or.accumulate(np.where(np.isfinite(gap), gap <= epsp, False), axis=1)
        eta36_ok = np.logical_and.accumulate(np.where(steps, eta <= q["eta_thm36"][:, None] * (1 + 1e-12), True),
                                             axis=1) if T else steps
        rec["thm36_iii_applies"] = steps & (not gd) & self.model.skip & ((q["thm36_margin"] >= 1) & mu_ok)[:, None] & eta36_ok & \
            ~reached[:, :-1]
        rec["thm36_iii_held"] = steps & (full[:, 1:] <= 2 * col["L0"] * held + band[:, 1:])

    # -- results ------------------------------------------------------------------------------------
    def constants(self) -> list:
        return self._consts

    def summary(self, result) -> dict:
        a = result.arrays
        R = result.R
        gap, full = a["loss"], a["loss"] + self.vals["lstar"][:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            slack = np.where(a["thm31_applies"], np.log10(np.maximum(a["pred_thm31"][:, 1:], 1e-300)
                                                         / np.maximum(gap[:, 1:], 1e-300)), np.nan)
        reached = np.array([bool(np.nanmin(gap[r, : result.steps[r] + 1]) <= self.eps_v[r]) for r in range(R)])
        max_ratio = np.array([float(np.nanmax(full[r, : result.steps[r] + 1]) / (2 * self.vals["L0"][r]))
                              if self.vals["L0"][r] > 0 else np.nan for r in range(R)])
        below = None
        if np.isfinite(self.q["thm38_margin"]).all():
            env = a["envelope_thm38"]
            below = np.array([bool(np.all(full[r, : result.steps[r] + 1] <= env[r, : result.steps[r] + 1]
                                          * (1 + RTOL_HELD))) for r in range(R)])

        def frac(x):
            if x is None:
                return None
            p = float(np.mean(x))
            return {"fraction": p, "binomial_se": float(np.sqrt(p * (1 - p) / len(x))), "seeds": int(len(x))}

        return {"zou_long_gu": {
            "sgd": None if self.sampler is None else self.sampler.to_dict(),
            "eps": self.eps_v.tolist(), "lstar": self.vals["lstar"].tolist(),
            "thm31_margin": self.q["thm31_margin"].tolist(), "eta_thm31": self.q["eta_thm31"].tolist(),
            "R_GD": self.q["R_GD"].tolist(), "region": self.q["region"].tolist(),
            "w_max": [float(np.nanmax(a["w_max"][r])) for r in range(R)],
            "thm31_min_log10_slack": float(np.nanmin(slack)) if np.isfinite(slack).any() else None,
            "reached_eps": frac(reached),
            "below_envelope_thm38": frac(below),
            "below_envelope_thm38_not_applicable": None if below is not None else
            "needs L(W*) = 0 (Theorem 3.8)",
            "max_loss_over_2L0": max_ratio.tolist(),
            "max_loss_below_2L0": frac(max_ratio <= 1 + RTOL_HELD),
            "steps_to_eps": [int(np.argmax(gap[r] <= self.eps_v[r])) if reached[r] else None for r in range(R)],
        }}
