"""A PEPit-style verdict of a two-layer run: the guarantee that covers the schedule, the observed rate, and
on how many steps each theorem held where it applies (the local-PL paper, Theorems 3.1 and 3.2 / E.1).

PEPit prints the computed worst case next to the theoretical one ("PEPit guarantee: ... <= 0.72",
"Theoretical guarantee: ... <= 0.72"); a run prints the observed rate next to the rate of the theorem that
covers its steps:

* Theorem 3.2 / E.1 covers a step when the step is in its range (Lemma E.3 held at T0, eq. (89) and Lemma
  E.4 held so far: the theory's ``thm32_in_range`` flag); its rate is ``rhobar0`` (L(t) <= L0 rhobar0^t);
* Theorem 3.1 covers every step with ``eta_t K_t(eta_t) < 2`` (``thm31_applicable``); its per-step rate is
  ``rho(eta_t, t)``, summarised by the median over the steps it covers.

The guarantee named is Theorem 3.2's when it covers every step taken, else Theorem 3.1's when that covers
every step, else the one that covers more steps, with the count; "none" when neither covers a step.

Examples
--------
>>> from convtool.numeric.experiments import default_batch, run_batch
>>> v = run_verdict(run_batch(default_batch(h=30), steps=40))
>>> v["guarantee"], v["checks"][0]["theorem"], v["checks"][0]["steps"]
('Theorem 3.2', 'Theorem 3.1', 40)
"""

from __future__ import annotations

import numpy as np

from convtool.results import jsonable

__all__ = ["run_verdict", "THEOREMS"]

#: key -> (theorem, flag where it applies, flag where it held, statement, where it applies)
THEOREMS = {
    "thm31": ("Theorem 3.1", "thm31_applicable", "thm31_held", "L(t+1) <= rho(eta_t, t) L(t)", "eta_t K_t < 2"),
    "thm32": ("Theorem 3.2", "thm32_in_range", "thm32_held", "L(t) <= L0 rhobar0^t and L(t+1) <= rhobar L(t)",
              "Lemma E.3 at T0, eq. (89) and Lemma E.4 held so far"),
}


def run_verdict(result) -> dict:
    """The verdict of a :class:`~convtool.numeric.engine.RunResult` of the two-layer model (local-PL theory).

    Returns a strict-JSON-ready dict: ``guarantee`` (theorem name or None), ``guarantee_rate`` and
    ``rate_name``, ``observed_rate``, ``steps`` (GD steps over all seeds) and ``checks``: per theorem
    ``applies_on``, ``held_on``, ``steps``, ``first_violation``; and ``text``, the lines to print.
    """
    a = result.arrays
    if "thm31_applicable" not in a:
        return {}
    s = result.summary()
    total = int(np.sum(result.steps))
    checks = []
    for key, (name, app_key, held_key, statement, where) in THEOREMS.items():
        app = np.asarray(a[app_key], dtype=bool)
        held = np.asarray(a[held_key], dtype=bool)
        n_app, n_held = int(app.sum()), int((app & held).sum())
        viol = app & ~held
        first = int(np.argmax(viol.any(axis=0))) if viol.any() else None
        checks.append({"key": key, "theorem": name, "statement": statement, "where": where, "applies_on": n_app,
                       "held_on": n_held, "steps": total, "first_violation": first})
    c31, c32 = checks
    rho = np.asarray(a["rho"], dtype=float)
    app31 = np.asarray(a["thm31_applicable"], dtype=bool) & np.isfinite(rho)
    rho_med = float(np.median(rho[app31])) if app31.any() else None
    rhobar0 = s.get("rhobar0")
    if total and c32["applies_on"] == total and rhobar0 is not None:
        guarantee, rate, rate_name = "Theorem 3.2", rhobar0, "rhobar0"
    elif total and c31["applies_on"] == total:
        guarantee, rate, rate_name = "Theorem 3.1", rho_med, "median rho(eta_t, t)"
    elif c32["applies_on"] > c31["applies_on"] and rhobar0 is not None:
        guarantee, rate, rate_name = "Theorem 3.2", rhobar0, "rhobar0"
    elif c31["applies_on"]:
        guarantee, rate, rate_name = "Theorem 3.1", rho_med, "median rho(eta_t, t)"
    else:
        guarantee, rate, rate_name = None, None, None
    out = {"guarantee": guarantee, "guarantee_rate": rate, "rate_name": rate_name,
           "observed_rate": s.get("observed_rate"), "steps": total, "checks": checks}
    out["text"] = verdict_lines(out)
    return jsonable(out)


def _num(x) -> str:
    if x is None:
        return "-"
    x = float(x)
    if x != 1.0 and abs(1.0 - x) < 1e-3:
        return f"1 - {1.0 - x:.6g}" if x < 1 else f"1 + {x - 1.0:.6g}"
    return f"{x:.6g}"


def verdict_lines(v: dict) -> list[str]:
    """The verdict as lines, in PEPit's fixed format."""
    lines = []
    if v["guarantee"] is None:
        lines.append("Guarantee: none covers this schedule (neither Theorem 3.1 nor 3.2 applies at any step)")
    else:
        c = next(ch for ch in v["checks"] if ch["theorem"] == v["guarantee"])
        cover = "every step" if c["applies_on"] == v["steps"] else f"{c['applies_on']} of {v['steps']} steps"
        lines.append(f"Guarantee: {v['guarantee']}, {c['statement']}, rate {v['rate_name']} = "
                     f"{_num(v['guarantee_rate'])} (covers {cover})")
    lines.append(f"Observed rate: {_num(v['observed_rate'])} (10^slope of log10 L(t), last half of the run)")
    for c in v["checks"]:
        if c["applies_on"]:
            first = f", first violation at t = {c['first_violation']}" if c["first_violation"] is not None else ""
            lines.append(f"{c['theorem']}: held on {c['held_on']} of {c['applies_on']} steps where it applies "
                         f"({c['where']}){first}")
        else:
            lines.append(f"{c['theorem']}: applies at no step (it needs: {c['where']}), so it does not cover "
                         f"this schedule")
    return lines


def short_verdict(v: dict) -> str:
    """One line per compared schedule: the covering guarantee and its rate, the observed rate, the counts."""
    if not v:
        return "no theory attached"
    if v["guarantee"] is None:
        head = "no guarantee covers it"
    else:
        c = next(ch for ch in v["checks"] if ch["theorem"] == v["guarantee"])
        cover = "every step" if c["applies_on"] == v["steps"] else f"{c['applies_on']} of {v['steps']} steps"
        head = f"{v['guarantee']} ({v['rate_name']} = {_num(v['guarantee_rate'])}) covers {cover}"
    counts = "; ".join(f"{c['theorem'].replace('Theorem', 'Thm')} held on {c['held_on']} of {c['applies_on']}"
                       if c["applies_on"] else f"{c['theorem'].replace('Theorem', 'Thm')} applies nowhere"
                       for c in v["checks"])
    return f"{head}; observed rate {_num(v['observed_rate'])}; {counts}"


def per_seed_rows(name: str, result) -> list[dict]:
    """One row per seed of a run: status, steps, final L, observed rate, mean eta, and per theorem the steps
    where it applied and held (compare's CSV)."""
    from convtool.numeric.engine import observed_rate

    a = result.arrays
    rows = []
    for r in range(result.R):
        k = int(result.steps[r])
        L = np.asarray(a["loss"][r, : k + 1], dtype=float)
        eta = np.asarray(a["eta"][r, :k], dtype=float)
        row = {"schedule": name, "seed_index": r, "status": str(result.status[r]), "steps": k,
               "final_L": float(L[-1]), "observed_rate": observed_rate(L),
               "mean_eta": float(np.mean(eta[np.isfinite(eta)])) if np.isfinite(eta).any() else None}
        for key, (thm, app_key, held_key, _, _) in THEOREMS.items():
            if app_key in a:
                app = np.asarray(a[app_key][r], dtype=bool)
                held = np.asarray(a[held_key][r], dtype=bool)
                row[f"{key}_applies_on"] = int(app.sum())
                row[f"{key}_held_on"] = int((app & held).sum())
        rows.append(row)
    return jsonable(rows)


def reference_seed_rows(ref: np.ndarray, tol: float) -> list[dict]:
    """Per-seed rows of the Problem-1 reference (GD on W with eta = 1/K) from its (R, T+1) losses."""
    from convtool.numeric.engine import observed_rate

    rows = []
    for r, L in enumerate(np.atleast_2d(ref)):
        L = L[np.isfinite(L)]
        rows.append({"schedule": "problem-1 (eta = 1/K)", "seed_index": r,
                     "status": "converged" if L[-1] <= tol * L[0] else "max_steps", "steps": int(L.size - 1),
                     "final_L": float(L[-1]), "observed_rate": observed_rate(L), "mean_eta": None})
    return jsonable(rows)


__all__ += ["short_verdict", "per_seed_rows", "reference_seed_rows", "verdict_lines"]
