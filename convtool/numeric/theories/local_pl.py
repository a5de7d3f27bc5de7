"""The local-PL paper's theory on the two-layer model ``l(W1 W2^T)`` (paper key ``"local-pl"``).

At every step it records the spectra, Theorem 3.1's ``mu_t, K_t(eta_t), rho(eta_t, t)``, Theorem 3.2's
``Kbar_t, rhobar(eta_t, t)`` and cumulative bounds, the imbalance drift with Lemma E.2's bound, and per-step
flags saying whether each theorem applied and held (and whether the check was vacuous: its accepted value
``bound (1 + RTOL_HELD) + band`` was >= L(t), so any step that did not increase L passed it). Theorem 3.2 is
counted in range at step t only where its proof's hypotheses hold: Lemma E.3 at T0 (the constants' check),
eq. (89) at every step so far, and Lemma E.4 (eqs. 105, 106), which the induction uses at every state
(``lemmaE4_applies``, ``lemmaE4_held``, with the bounds ``lemmaE4_lower_bound`` / ``lemmaE4_upper_bound``);
Lemma E.4 can fail for n != m after Lemma E.3 held at T0. The loop records the observed state (:meth:`LocalPL.observe`)
and evaluates only what the schedule needs (:meth:`LocalPL.schedule_env`); the theory records are evaluated
from it after the loop (:meth:`LocalPL.finalize`), with the same registered formulas, vectorized over seeds
and steps. The rounding band of "held" is described in :mod:`convtool.numeric.engine`.

The reduced imbalance ``Q^T D(t) Q`` is formed once per step by :func:`observed_imbalance`, which caches it
in ``Observation.cache``; another theory of the two-layer model (balancedness) imports and calls the same
function and gets the same array. The per-step spectra keep their warm start (``self._tracker``, issue 13)
from step to step. Where numba is installed, :meth:`LocalPL.fused_loop` gives the engine the whole loop as
one compiled call (:mod:`convtool.numeric.theories.local_pl_fused`: the same in-loop records, to round-off).

This is what :func:`convtool.numeric.engine.run_gd` attached to every run before the engine became
model-neutral; the records, flags and summary it had then are unchanged (``tests/test_golden.py``); the Lemma E.4
and vacuity records were added since (issue 14).
"""

from __future__ import annotations

import warnings

import numpy as np

from convtool.analysis.evaluate import warm_up
from convtool.errors import ConvtoolWarning, InputError
from convtool.numeric.constants import LEMMA_E3_RTOL, _compute_constants_gen, measure_primitives_batch
from convtool.numeric.roots import drive_batch, positive_root
from convtool.numeric.schedules import evaluate_on
from convtool.numeric.theories.base import EPS, RTOL_HELD, SETUP_PHASE, Check, Observation, RunContext, Theory
from convtool.results import NotApplicable

__all__ = ["LocalPL", "observed_imbalance", "IMBALANCE_CACHE_KEY"]

#: the key of the reduced imbalance in :attr:`Observation.cache`
IMBALANCE_CACHE_KEY = "two_layer_imbalance"


def observed_imbalance(model, obs: Observation) -> np.ndarray:
    """The reduced imbalance ``Q^T D(t) Q = S1^T S1 - S2^T S2`` (R, r, r) of the observed two-layer state,
    formed once per step and shared through ``obs.cache`` (key :data:`IMBALANCE_CACHE_KEY`) by every theory
    that calls this (local-PL's drift and spectra; a balancedness theory). Its eigenvalues are D(t)'s
    nonzero-candidate ones and its Frobenius distances D's (:func:`convtool.numeric.spectra.reduced_imbalance`)."""
    D = obs.cache.get(IMBALANCE_CACHE_KEY)
    if D is None:
        D = obs.cache[IMBALANCE_CACHE_KEY] = model.imbalance(obs.state)
    return D

#: observed in the loop (besides the engine's loss and grad_sq): state t (R, T+1) and step t (R, T)
_STATE_KEYS = ("s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq", "sW_min", "sW_max",
               "lambda_max_D", "lambda_max_negD", "drift", "grad_l_norm", "W_fro", "weight_fro_prod")
_STEP_KEYS = ("drift_step",)
#: evaluated from them afterwards (:meth:`LocalPL.finalize`)
_THEORY_STEP_KEYS = ("eta_hat", "growth_cap", "K_t", "rho", "Kbar_t", "rhobar", "ratio", "drift_step_bound")
_FLAG_KEYS = ("thm31_applicable", "thm31_held", "thm32_in_range", "thm32_held", "lemmaE4_applies", "lemmaE4_held",
              "thm31_vacuous", "thm32_vacuous")
#: Lemma E.4's bounds on the spectra of T_t, per state (R, T+1)
_E4_STATE_KEYS = ("lemmaE4_lower_bound", "lemmaE4_upper_bound")

_CONST_KEYS = ("mu", "K", "L0", "alpha1", "alpha2", "beta2", "eta_max", "mubar", "rhobar0", "Delta",
               "local_rate", "local_rate_limit", "rate_nonoverparam")


def _per_seed_constants(losses, W1, W2, c, d, eta0, reductions, phase=None):
    """:func:`compute_constants` of every seed, as a loop over the seeds would compute them, bit for bit: the
    spectra of the whole batch measured at once (:func:`~convtool.numeric.constants.measure_primitives_batch`)
    and the root-side signs of all seeds decided together (:func:`~convtool.numeric.roots.drive_batch`)."""
    R = W1.shape[0]
    prims = measure_primitives_batch(losses, W1, W2, reductions) if all(r is not None for r in reductions) else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvtoolWarning)
        gens = [_compute_constants_gen(losses[r], W1[r], W2[r], c=c, d=d, eta0=eta0, reduction=reductions[r],
                                       primitives=None if prims is None else prims[r], stacklevel=4)
                for r in range(R)]
        out = drive_batch(gens, caught, done=None if phase is None else (lambda k: phase(SETUP_PHASE, k, R)))
    return out, [str(w.message) for w in caught]


def _const_env(consts):
    """Per-seed constants of Theorem E.1 as arrays (NaN where not applicable)."""
    env = {}
    for k in _CONST_KEYS:
        vals = []
        for res in consts:
            v = res.quantities.get(k) if k in res.quantities else res.values.get(k)
            vals.append(np.nan if isinstance(v, NotApplicable) or v is None else float(v))
        env[k] = np.array(vals)
    return env


def _sq(M: np.ndarray) -> np.ndarray:
    """``||M_r||_F^2`` per seed (R,) of a stack (R, p, q), without a p x q temporary."""
    return np.einsum("rij,rij->r", M, M)


def _flat(env: dict, shape: tuple) -> dict:
    """Every entry broadcast to ``shape`` (per-seed (R,) values as (R, 1)) and flattened."""
    out = {}
    for k, v in env.items():
        v = np.asarray(v, dtype=float)
        if v.ndim == 1:
            v = v[:, None]
        out[k] = np.broadcast_to(v, shape).ravel()
    return out


class _FlatOnDemand(dict):
    """``_flat(env, shape)`` entry by entry as :func:`~convtool.numeric.schedules.evaluate_on` reads them (each
    once; an entry added to ``env`` later is seen): the same arrays without flattening every per-seed constant
    for each formula. Only for readers that index it (``env[name]``), as ``evaluate_on`` does."""

    def __init__(self, env: dict, shape: tuple):
        super().__init__()
        self._env, self._shape = env, shape

    def __missing__(self, key):
        v = self[key] = _flat({key: self._env[key]}, self._shape)[key]
        return v


class LocalPL(Theory):
    """Theorems 3.1 / 3.2 / E.1 and Lemma E.2 of the local-PL paper along a two-layer run.

    Parameters
    ----------
    c, d : float
        Exponents of Theorem E.1.
    """

    key = "local-pl"
    reference = "local-PL two-layer paper, Theorems 3.1, 3.2, E.1, Lemma E.2"
    state_keys = _STATE_KEYS
    step_keys = _STEP_KEYS
    checks = (Check("thm31", "thm31_applicable", "thm31_held", "Theorem 3.1",
                    "L(t+1) <= rho(eta_t, t) L(t) where eta_t K_t(eta_t) < 2"),
              Check("thm32", "thm32_in_range", "thm32_held", "Theorem 3.2",
                    "L(t+1) <= rhobar L(t) and <= L0 rhobar0^(t+1) while Lemma E.3 held at T0 and eq. (89) "
                    "and Lemma E.4 held at every step so far"),
              Check("lemmaE4", "lemmaE4_applies", "lemmaE4_held", "Lemma E.4, eqs. (105), (106)",
                    "alpha1 - 4 ||D(t) - D(0)||_F <= sigma_min^2(T_t) <= sigma_max^2(T_t) <= alpha2 + "
                    "2 ||D(t) - D(0)||_F, where Lemma E.3 held at T0 and eq. (89) at every step so far"))

    def __init__(self, c: float = 0.5, d: float = 2.0):
        self.c, self.d = c, d
        self._consts, self._warnings = [], []

    def warm_up(self) -> None:
        warm_up()

    # -- before the loop ----------------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> dict:
        model, R, sched = ctx.model, ctx.R, ctx.schedule
        consts, self._warnings = _per_seed_constants(ctx.losses, model.W1_0, model.W2_0, self.c, self.d, ctx.eta0,
                                                     model.reductions, ctx.phase)
        self._consts = consts
        cenv = _const_env(consts)
        eta0_arr = np.array([res.quantities["eta0"] if not isinstance(res.quantities["eta0"], NotApplicable)
                             else np.nan for res in consts])
        if np.isnan(eta0_arr).any() and sched.theorem_schedule:  # constant / adaptive / adaptive-bar use eta0
            bad = next(res for res in consts if isinstance(res.quantities["eta0"], NotApplicable))
            raise InputError(f"schedule {sched.name!r} needs eta0, but {bad.quantities['eta0'].reason}; "
                             "pass --eta0 explicitly")
        self.env0 = {"c": np.full(R, float(self.c)), "d": np.full(R, float(self.d)), "eta0": eta0_arr, **cenv}
        self.theorem_ok = np.array([res.theorem_applies for res in consts]) & sched.theorem_schedule
        self.model = model
        self.R = R
        self._D0 = self._Dprev = None
        self._tracker = {}  # warm starts of the per-step extreme eigenvalues (models.spectra_batch)
        self._eta_hat_prev = np.full(R, np.nan)
        return self.env0

    def fused_loop(self, ctx: RunContext, env0: dict, steps: int):
        """The whole run loop as one compiled call where it applies (numba; two-layer model, built-in squared
        losses, schedules constant / adaptive / local), else None: :func:`convtool.numeric.theories.
        local_pl_fused.fused_loop`. Same records as :meth:`observe` and the engine's loop, to round-off."""
        from convtool.numeric.theories.local_pl_fused import fused_loop

        return fused_loop(self, ctx, env0, steps)

    # -- in the loop --------------------------------------------------------------------------------
    def observe(self, t: int, obs: Observation):
        state, W, Gl = obs.state, obs.W, obs.Gl
        A, B = state
        Dt = observed_imbalance(self.model, obs)
        if self._D0 is None:
            self._D0 = self._Dprev = Dt
        sp_ = self.model.spectra(state, W, Dt, tracker=self._tracker)
        self._sp, self._Dt = sp_, Dt
        gln = np.sqrt(_sq(Gl))
        self._gln = gln
        vals = {"s1_min_sq": sp_["s1_min_sq"], "s1_max_sq": sp_["s1_max_sq"],
                "s2_min_sq": sp_["s2_min_sq"], "s2_max_sq": sp_["s2_max_sq"], "sW_min": sp_["sigma_min_W"],
                "sW_max": sp_["sigma_max_W"], "lambda_max_D": sp_["lambda_max_D"],
                "lambda_max_negD": sp_["lambda_max_negD"],
                "drift": np.sqrt(_sq(Dt - self._D0)) if t > 0 else np.zeros(self.R),
                "grad_l_norm": gln, "W_fro": sp_["W_fro"],
                "weight_fro_prod": np.sqrt(_sq(A) * _sq(B))}
        step = {"drift_step": np.sqrt(_sq(Dt - self._Dprev))} if t > 0 else {}
        return vals, step

    def schedule_env(self, t: int, obs: Observation, env: dict, schedule) -> None:
        env.update(self._sp)
        env["grad_l_norm"] = self._gln
        for name in schedule.needs:
            if name == "eta_hat":  # warm start from the previous root, enlarged 1% (kept only if proven)
                env[name] = self._eta_hat_prev = positive_root("eta_hat", env, hint=self._eta_hat_prev * 1.01)
            else:
                env[name] = evaluate_on(name, env)

    def after_step(self, t: int, obs: Observation, eta) -> None:
        self._Dprev = self._Dt

    # -- after the loop -----------------------------------------------------------------------------
    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        """Evaluate every theory record from the observed state, vectorized over seeds and steps.

        Step t uses the state at t and eta_t: Theorem 3.1's ``K_t(eta_t)``, ``rho``; Theorem 3.2's
        ``Kbar_t``, ``rhobar``, the growth cap, ``eta_hat_t`` (root of eta K_t(eta) = 1), the cumulative
        bounds ``L0 prod rhobar`` and ``L0 rhobar0^t``, Lemma E.2's bound and its running sum, and
        the flags. Entries after a seed stopped are NaN (flags False).
        """
        env0, theorem_ok = self.env0, self.theorem_ok
        R, T = rec["eta"].shape
        L = rec["loss"]
        steps = np.arange(T)[None, :] < nsteps[:, None]            # (R, T): step t was taken
        states = np.arange(T + 1)[None, :] <= nsteps[:, None]      # (R, T+1): state t was reached
        env = dict(env0)
        for k in ("s1_min", "s1_max", "s2_min", "s2_max"):  # recorded as singular values, used squared
            env[k + "_sq"] = sq = rec.pop(k + "_sq")
            rec[k] = np.sqrt(sq)
        flat_s = _FlatOnDemand(env, (R, T + 1))  # what the three formulas read, flattened once each
        for k in ("sigma_min_T_sq", "sigma_max_T_sq"):
            env[k] = evaluate_on(k, flat_s).reshape(R, T + 1)
            rec[k] = np.where(states, env[k], np.nan)
        rec["mu_t"] = np.where(states, evaluate_on("mu_t", flat_s).reshape(R, T + 1), np.nan)
        if T == 0:
            for k in _THEORY_STEP_KEYS:
                rec[k] = np.full((R, 0), np.nan)
            for k in _FLAG_KEYS:
                rec[k] = np.zeros((R, 0), dtype=bool)
            for k in _E4_STATE_KEYS:
                rec[k] = np.full((R, 1), np.nan)
            rec["bound_prod"] = env0["L0"][:, None].copy()
            rec["bound_rhobar0"] = env0["L0"][:, None].copy()
            rec["drift_bound"] = np.zeros((R, 1))
            return
        se = {k: (v[:, :T] if np.ndim(v) == 2 else v) for k, v in env.items()}
        se.update(L_t=L[:, :T], sigma_max_W=rec["sW_max"][:, :T], eta=rec["eta"],
                  t=np.arange(T, dtype=float)[None, :], mu_t=rec["mu_t"][:, :T])
        flat = _flat(se, (R, T))
        ev = {k: evaluate_on(k, flat) for k in ("K_t", "growth_cap", "Kbar_t", "drift_step_bound")}
        flat.update(ev)
        ev["rho"] = evaluate_on("rho", flat)
        ev["rhobar"] = evaluate_on("rhobar", flat)
        ev["eta_hat"] = positive_root("eta_hat", flat)
        for k, v in ev.items():
            rec[k] = np.where(steps, v.reshape(R, T), np.nan)
        eta, K_t = rec["eta"], rec["K_t"]
        # observed ratio and the rounding band of the computed L(t+1) (engine module docstring)
        Lp, Ln = L[:, :-1], L[:, 1:]
        rec["ratio"] = np.where(steps & (Lp > 0), Ln / np.where(Lp > 0, Lp, 1.0), np.nan)
        # ||D(t+1) - D(t)||_F is formed from float products carrying ~eps ||W1||_F ||W2||_F each: below
        # 64 eps ||W1||_F ||W2||_F it is noise, not a drift (issue 14 item 7); such steps are flagged, and
        # only resolved steps may be compared with Lemma E.2's drift_step_bound
        rec["drift_step_resolved"] = steps & (rec["drift_step"] > 64 * EPS * rec["weight_fro_prod"][:, 1:])
        delta = 64 * EPS * rec["weight_fro_prod"][:, 1:]
        K = env0["K"][:, None]
        band = np.sqrt(2 * K * np.where(np.isfinite(Ln), Ln, 0.0)) * delta + 0.5 * K * delta ** 2
        L0, rhobar0 = env0["L0"][:, None], env0["rhobar0"][:, None]
        tt = np.arange(T + 1)[None, :]
        rec["bound_rhobar0"] = np.where(states, L0 * rhobar0 ** tt, np.nan)
        rec["bound_prod"] = np.where(states, L0 * np.concatenate(
            [np.ones((R, 1)), np.cumprod(np.where(steps, rec["rhobar"], 1.0), axis=1)], axis=1), np.nan)
        rec["drift_bound"] = np.where(states, np.concatenate(
            [np.zeros((R, 1)), np.cumsum(np.where(steps, rec["drift_step_bound"], 0.0), axis=1)], axis=1), np.nan)
        held = 1 + RTOL_HELD
        rec["thm31_applicable"] = steps & (eta > 0) & (eta * K_t < 2)
        accept31 = rec["rho"] * Lp * held + band
        accept32 = np.minimum(rec["rhobar"] * Lp * held, rec["bound_rhobar0"][:, 1:] * held) + band
        rec["thm31_held"] = steps & (Ln <= accept31)
        rec["thm32_held"] = steps & (Ln <= rec["rhobar"] * Lp * held + band) & \
            (Ln <= rec["bound_rhobar0"][:, 1:] * held + band)
        # eq. (89) at every step so far: eta0 <= eta_t <= min(cap, 1/K_t); eta_t <= 1/K_t is eta_t K_t(eta_t) <= 1
        tol_rel = 1 + 1e-12
        ok = (env0["eta0"][:, None] <= eta * tol_rel) & (eta <= rec["growth_cap"] * tol_rel) & (eta * K_t <= tol_rel)
        pre = steps & theorem_ok[:, None] & np.logical_and.accumulate(ok | ~steps, axis=1)
        # Lemma E.4 (eqs. 105, 106) at state t, which the proof's induction (A_4(t)) uses at every step:
        # alpha1 - 4 ||D(t) - D(0)||_F <= sigma_min^2(T_t), sigma_max^2(T_t) <= alpha2 + 2 ||D(t) - D(0)||_F,
        # with the slack of Lemma E.3's check (at t = 0 the lower bound is Lemma E.3's, D(0) - D(0) = 0)
        a1, a2 = env0["alpha1"][:, None], env0["alpha2"][:, None]
        drift = rec["drift"]
        rec["lemmaE4_lower_bound"] = np.where(states, a1 - 4 * drift, np.nan)
        rec["lemmaE4_upper_bound"] = np.where(states, a2 + 2 * drift, np.nan)
        slack = LEMMA_E3_RTOL * np.abs(a2)
        e4 = (env["sigma_min_T_sq"] >= rec["lemmaE4_lower_bound"] - slack) & \
            (env["sigma_max_T_sq"] <= rec["lemmaE4_upper_bound"] + slack)
        rec["lemmaE4_applies"] = pre
        rec["lemmaE4_held"] = steps & e4[:, :T]
        # Theorem 3.2's range: its hypotheses (Lemma E.3 at T0, eq. 89) and the proof's Lemma E.4 at every step
        # so far (the induction's A_4(k), k <= t, carries the bound L(t+1) <= L0 rhobar0^(t+1))
        rec["thm32_in_range"] = pre & np.logical_and.accumulate(rec["lemmaE4_held"] | ~steps, axis=1)
        # vacuous: the accepted value (bound (1 + RTOL_HELD) + band) is >= L(t), so any non-increasing step passes
        rec["thm31_vacuous"] = rec["thm31_applicable"] & (accept31 >= Lp)
        rec["thm32_vacuous"] = rec["thm32_in_range"] & (accept32 >= Lp)

    # -- results ------------------------------------------------------------------------------------
    def constants(self) -> list:
        return [res.to_dict() for res in self._consts]

    def extra(self) -> dict:
        return {"constant_warnings": self._warnings}

    def violations(self, arrays: dict) -> dict:
        """Counts and first steps of Theorem 3.1 / 3.2 and Lemma E.4 violations (where each applied), and the
        number of vacuous steps of each theorem (``thm31_steps_vacuous``, ``thm32_steps_vacuous``: the accepted
        value ``bound (1 + RTOL_HELD) + band`` was >= L(t), so any step that did not increase L passed)."""
        a = arrays
        v31 = a["thm31_applicable"] & ~a["thm31_held"]
        v32 = a["thm32_in_range"] & ~a["thm32_held"]
        out = {}
        for key, v in (("thm31", v31), ("thm32", v32)):
            idx = np.argwhere(v)
            out[key] = int(v.sum())
            out[f"{key}_first"] = int(idx[:, 1].min()) if idx.size else None
        out["thm31_steps_applicable"] = int(a["thm31_applicable"].sum())
        out["thm32_steps_in_range"] = int(a["thm32_in_range"].sum())
        # steps where the check cannot fail unless L grows (accepted value >= L(t)); evidence is the rest
        for key, app in (("thm31", "thm31_applicable"), ("thm32", "thm32_in_range")):
            vac = a.get(f"{key}_vacuous")
            vac = np.zeros_like(a[app]) if vac is None else vac
            out[f"{key}_steps_vacuous"] = int(vac.sum())
        e4 = a.get("lemmaE4_applies")
        if e4 is not None:
            v = e4 & ~a["lemmaE4_held"]
            idx = np.argwhere(v)
            out["lemmaE4"] = int(v.sum())
            out["lemmaE4_first"] = int(idx[:, 1].min()) if idx.size else None
            out["lemmaE4_steps_applicable"] = int(e4.sum())
        return out

    @staticmethod
    def tightness(arrays: dict) -> float | None:
        """Median over applicable steps of observed ratio / rho (1 = Theorem 3.1 tight)."""
        a = arrays
        mask = a["thm31_applicable"] & np.isfinite(a["ratio"]) & (a["rho"] > 0)
        if not mask.any():
            return None
        return float(np.median(a["ratio"][mask] / a["rho"][mask]))

    @staticmethod
    def _eta_over_eta_max(result) -> float | None:
        """Median of eta_t / eta_max over steps and seeds: how far a schedule strays from Theorem 3.2's
        step (the ``local`` step can exceed eta_max by orders of magnitude on ill-conditioned data)."""
        em = np.array([c.get("eta_max") if isinstance(c.get("eta_max"), float) else np.nan for c in result.constants])
        with np.errstate(all="ignore"):
            r = result.arrays["eta"] / em[:, None]
        r = r[np.isfinite(r)]
        return float(np.median(r)) if r.size else None

    def summary(self, result) -> dict:
        c0 = result.constants

        def cmean(key):
            vals = [c[key] for c in c0 if isinstance(c.get(key), float)]
            return float(np.mean(vals)) if vals else None

        return {"rhobar0": cmean("rhobar0"), "local_rate": cmean("local_rate"),
                "local_rate_limit": cmean("local_rate_limit"), "rate_nonoverparam": cmean("rate_nonoverparam"),
                "eta_max": cmean("eta_max"), "eta_over_eta_max": self._eta_over_eta_max(result),
                "tightness": self.tightness(result.arrays)}
