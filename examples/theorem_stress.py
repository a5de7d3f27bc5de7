"""Do Theorems 3.1 and 3.2 hold on random instances? Count violations over many GD runs.

Problem: squared loss ``1/2 ||Y - X W1 W2^T||^2`` with random X (N x n, N >= n), Y, and
Gaussian initializations of random scale and width h >= n + m; ``shapes="n=m"`` (where Lemma E.3
holds) or ``"n!=m"`` (where it can fail at T0, and Lemma E.4 along the run).

Algorithm: GD with the theorem schedules ``constant``, ``adaptive`` and ``adaptive-bar``
(eq. 19), eta0 = eta_max, c = 1/2, d in {1.01, 2}.

Theoretical guarantee: Theorem 3.1, ``L(t+1) <= rho(eta_t, t) L(t)`` whenever
``0 < eta_t K_t < 2``; Theorem 3.2 / E.1, ``L(t+1) <= rhobar(eta_t, t) L(t)`` and
``L(t) <= L(0) rhobar0^t`` at every step satisfying eq. (89), where Lemma E.3 held at T0 and
Lemma E.4 (which the proof uses) held at every step so far. The engine flags each step (up to the
documented rounding band); this script adds the flags up.

A checked step is *vacuous* when the accepted value ``bound (1 + RTOL_HELD) + band`` is >= L(t):
then any step that does not increase L passes, and the step is no evidence for the bound. The
evidence is the violations over the non-vacuous steps; the vacuous ones are counted separately
(``steps_vacuous``, and ``runs_all_vacuous`` for runs whose every checked step was vacuous).

Reference: local-PL paper, Theorems 3.1 and E.1, Lemmas E.3 and E.4.

Example
-------
>>> r = wc_theorem_stress(instances=4, steps=60, verbose=-1)
>>> r["violations"], r["steps_nonvacuous"] > 0, r["lemmaE4"]
(0, True, 0)
"""

import warnings

import numpy as np

from convtool.errors import InputError
from convtool.numeric.engine import run_gd
from convtool.numeric.losses import SquaredLoss


def _dims(rng, shapes):
    if shapes == "n=m":
        n = m = int(rng.integers(1, 5))
        return n, m
    while True:
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        if n != m:
            return n, m


def wc_theorem_stress(instances=150, steps=300, seed=123, shapes="n=m", verbose=0):
    """Counts of Theorem 3.1 / 3.2 and Lemma E.4 violations over random runs, with the vacuous steps apart.

    Returns a dict: ``runs``, ``skipped`` (no admissible eta0), ``violations`` (Theorems 3.1 + 3.2),
    ``steps_checked`` (applicable + in range), ``steps_vacuous``, ``steps_nonvacuous``,
    ``violations_nonvacuous`` (violations at non-vacuous steps), ``runs_all_vacuous``, per theorem
    ``thm31`` / ``thm32`` dicts of the same counts, ``instances_T0_ok`` (instances where Lemma E.3 held at
    T0 and eta0 <= eta_max), ``lemmaE4`` (steps where Lemma E.4 failed within Theorem 3.2's other
    hypotheses), ``lemmaE4_steps``, ``lemmaE4_runs`` and ``lemmaE4_instances`` (with at least one failure),
    and ``thm32_steps_excluded_by_E4`` (steps that eq. 89 and Lemma E.3 alone would have counted in range).
    """
    rng = np.random.default_rng(seed)
    out = {"runs": 0, "skipped": 0, "violations": 0, "steps_checked": 0, "steps_vacuous": 0,
           "violations_nonvacuous": 0, "runs_all_vacuous": 0, "instances_T0_ok": 0, "lemmaE4": 0,
           "lemmaE4_steps": 0, "lemmaE4_runs": 0, "lemmaE4_instances": 0, "thm32_steps_excluded_by_E4": 0,
           "thm31": {"violations": 0, "steps": 0, "vacuous": 0}, "thm32": {"violations": 0, "steps": 0, "vacuous": 0}}
    for _ in range(instances):
        n, m = _dims(rng, shapes)
        h, N = int(rng.integers(n + m, 40)), n + int(rng.integers(0, 4))
        scale = 10 ** rng.uniform(-1, 0.7)
        loss = SquaredLoss(rng.normal(size=(N, n)), rng.normal(size=(N, m)))
        W1, W2 = scale * rng.normal(size=(n, h)), scale * rng.normal(size=(m, h))
        t0_ok = e4_failed = False
        for schedule in ("constant", "adaptive", "adaptive-bar"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    res = run_gd(loss, W1, W2, schedule=schedule, steps=steps, d=float(rng.choice([1.01, 2.0])))
                except InputError:  # eta_max not applicable here (reported with its reason)
                    out["skipped"] += 1
                    continue
            v, a = res.violations(), res.arrays
            out["runs"] += 1
            checked = vac = 0
            for key, app in (("thm31", "thm31_applicable"), ("thm32", "thm32_in_range")):
                viol = a[app] & ~a[f"{key}_held"]
                out[key]["violations"] += int(viol.sum())
                out[key]["steps"] += int(a[app].sum())
                out[key]["vacuous"] += int(a[f"{key}_vacuous"].sum())
                out["violations_nonvacuous"] += int((viol & ~a[f"{key}_vacuous"]).sum())
                checked += int(a[app].sum())
                vac += int(a[f"{key}_vacuous"].sum())
            out["runs_all_vacuous"] += int(checked > 0 and vac == checked)
            t0_ok |= bool(res.constants[0].get("eta0") is not None and
                          all(ch["ok"] for ch in res.constants[0]["checks"] if ch.get("required", True)))
            out["lemmaE4"] += v["lemmaE4"]
            out["lemmaE4_steps"] += v["lemmaE4_steps_applicable"]
            out["lemmaE4_runs"] += int(v["lemmaE4"] > 0)
            e4_failed |= v["lemmaE4"] > 0
            out["thm32_steps_excluded_by_E4"] += int((a["lemmaE4_applies"] & ~a["thm32_in_range"]).sum())
        out["instances_T0_ok"] += int(t0_ok)
        out["lemmaE4_instances"] += int(e4_failed)
    out["violations"] = out["thm31"]["violations"] + out["thm32"]["violations"]
    out["steps_checked"] = out["thm31"]["steps"] + out["thm32"]["steps"]
    out["steps_vacuous"] = out["thm31"]["vacuous"] + out["thm32"]["vacuous"]
    out["steps_nonvacuous"] = out["steps_checked"] - out["steps_vacuous"]
    if verbose >= 0:
        print(f"instances ({shapes})        : {instances}, {out['runs']} runs, {out['skipped']} without an "
              f"admissible eta0")
        print(f"convtool observed        : {out['violations_nonvacuous']} violations in {out['steps_nonvacuous']} "
              f"non-vacuous theorem-covered steps; {out['steps_vacuous']} more steps were vacuous "
              f"({out['runs_all_vacuous']} runs entirely), {out['violations'] - out['violations_nonvacuous']} "
              f"violations there")
        for key, name in (("thm31", "Theorem 3.1"), ("thm32", "Theorem 3.2")):
            d = out[key]
            print(f"  {name}            : {d['violations']} of {d['steps']} steps ({d['vacuous']} vacuous)")
        print(f"Lemma E.4                : failed at {out['lemmaE4']} of {out['lemmaE4_steps']} steps within Theorem "
              f"3.2's other hypotheses ({out['lemmaE4_runs']} runs, {out['lemmaE4_instances']} of "
              f"{out['instances_T0_ok']} instances that pass the T0 checks); "
              f"{out['thm32_steps_excluded_by_E4']} steps left out of Theorem 3.2's range")
        print("Theoretical guarantee    : 0 violations (Theorems 3.1 and 3.2)")
    return out


if __name__ == "__main__":
    wc_theorem_stress()
    wc_theorem_stress(shapes="n!=m")
