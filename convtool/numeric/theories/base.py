"""The theory interface of the GD engine: one :class:`Theory` per paper.

The engine (:func:`convtool.numeric.engine.run`) knows no paper. A theory is attached to a run and
called at fixed points of it:

=================== ===========================================================================
hook                when, and what it returns
=================== ===========================================================================
``warm_up()``       once, before the timed part (compile formulas)
``setup(ctx)``      before step 0: per-seed constants as ``{name: (R,) array}``; they enter the
                    schedule's ``env`` (``eta0`` among them when the theory chooses it), and
                    ``L0`` / ``K``, if given, are the stopping rules' reference loss and the
                    smoothness constant of the rounding band
``observe(t, obs)`` every state t (before the stopping rules): ``(state_values, step_values)``,
                    arrays (R,) for the state records :attr:`state_keys` at column t, and for the
                    step records :attr:`step_keys` at column t - 1 (things that need state t + 1)
``schedule_env``    before the schedule is called at step t: adds what the schedule needs to env
``after_step``      after eta_t is chosen, before the update (``obs.update_grads``: the
                    gradients it uses, the stochastic ones under SGD)
``finalize``        after the loop: vectorized records over all steps (``rec`` truncated to the
                    last step taken), checks included
``violations``      counts of failed checks where they applied (:attr:`checks`)
``summary``         what the theory adds to :meth:`RunResult.summary`
=================== ===========================================================================

A check is a pair of boolean (R, T) records, ``applies`` and ``held``, with the paper's reference;
a violation is a step where it applied and did not hold. "Held" always allows the rounding band
of the computed quantities (:data:`RTOL_HELD` relative, plus an absolute band from the round-off
of the iterate), so round-off alone does not produce a violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Theory", "Check", "RunContext", "Observation", "EPS", "RTOL_HELD", "SETUP_PHASE", "AFTER_PHASE"]

EPS = np.finfo(np.float64).eps
#: relative slack of every "held" test (module docstring of :mod:`convtool.numeric.engine`)
RTOL_HELD = 1e-9
#: names of the phases reported through ``phase(name, i, total)`` besides the steps themselves
SETUP_PHASE = "constants per seed"
AFTER_PHASE = "theory records"


@dataclass(frozen=True)
class Check:
    """One per-step check of a theory: boolean records ``applies`` and ``held`` (keys of the run's arrays)."""

    key: str
    applies: str
    held: str
    reference: str
    description: str = ""
    #: why the check does not apply, when that is decided for the whole run (None: decided per step)
    not_applicable: str | None = None


@dataclass
class RunContext:
    """What :meth:`Theory.setup` sees: the model, the losses (one per seed and the batched one), the
    schedule, the batch size, the user's ``eta0`` (or None) and the ``phase`` callback."""

    model: object
    losses: list
    loss: object
    schedule: object
    R: int
    eta0: float | None
    phase: object = None
    options: dict = field(default_factory=dict)
    #: the run's stochastic gradient (``run(stochastic=...)``), None for GD: the update then differs from the
    #: recorded full gradient (:attr:`Observation.update_grads`)
    stochastic: object = None


@dataclass
class Observation:
    """The observed state at step t, as the engine computed it (arrays with leading axis R)."""

    t: int
    state: tuple
    W: np.ndarray
    loss: np.ndarray
    Gl: np.ndarray
    grads: tuple
    grad_sq: np.ndarray
    active: np.ndarray
    #: per-step values shared between theories (computed once by the first that needs them, e.g. the
    #: two-layer imbalance D(t) of both the local-PL and the balancedness theory); fresh every step
    cache: dict = field(default_factory=dict)
    #: the parameter gradients the update of step t uses (``state - eta_t update_grads``): ``grads`` for GD, the
    #: stochastic gradient under SGD; set by the engine before ``after_step`` (None before)
    update_grads: tuple | None = None


class Theory:
    """Base class of the theories (module docstring). Subclasses set :attr:`key` (the paper key), the
    record keys and :attr:`checks`, and override the hooks they need."""

    key = "theory"
    reference = ""
    state_keys: tuple = ()
    step_keys: tuple = ()
    checks: tuple = ()

    def warm_up(self) -> None:
        pass

    def setup(self, ctx: RunContext) -> dict:
        return {}

    def observe(self, t: int, obs: Observation):
        return {}, {}

    def schedule_env(self, t: int, obs: Observation, env: dict, schedule) -> None:
        pass

    def after_step(self, t: int, obs: Observation, eta: np.ndarray) -> None:
        pass

    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        pass

    def constants(self) -> list:
        """Per-seed constants as JSON-ready dicts (``RunResult.constants``)."""
        return []

    def extra(self) -> dict:
        return {}

    def violations(self, arrays: dict) -> dict:
        """``{check: count, check_first: first step or None, check_steps_applicable: count}``."""
        out = {}
        for c in self.checks:
            app, held = arrays[c.applies], arrays[c.held]
            v = app & ~held
            idx = np.argwhere(v)
            out[c.key] = int(v.sum())
            out[f"{c.key}_first"] = int(idx[:, 1].min()) if idx.size else None
            out[f"{c.key}_steps_applicable"] = int(app.sum())
            if c.not_applicable is not None:
                out[f"{c.key}_not_applicable"] = c.not_applicable
        return out

    def summary(self, result) -> dict:
        return {}

    def to_dict(self) -> dict:
        return {"key": self.key, "reference": self.reference,
                "checks": {c.key: {"reference": c.reference, "applies": c.applies, "held": c.held,
                                   **({"not_applicable": c.not_applicable} if c.not_applicable else {})}
                           for c in self.checks}}


def put(rec: dict, key: str, t: int, val, mask: np.ndarray) -> None:
    """``rec[key][:, t] = val`` on the seeds in ``mask`` (all of them at once when all are active)."""
    if mask.all():
        rec[key][:, t] = val
    else:
        rec[key][:, t] = np.where(mask, val, rec[key][:, t])
