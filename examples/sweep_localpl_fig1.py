"""Local-PL paper, Fig. 1 as a sweep: observed rates against Theorem 3.2's guaranteed rate, nine settings.

Nine settings of the data and the initialization (h in {500, 1000, 4000} x sigma in {0.5, 1, 2}; the
paper does not print its sigma values), 30 repeats each (``data.seed``), the adaptive step sizes of
Section 3.2 (eq. 19 with rho and with rhobar), c = 0.5, d = 1.01. Claim: the observed linear rate never
exceeds rhobar0 (Theorem 3.2 / E.1) and no step violates Theorems 3.1 / 3.2 where they apply.
``python examples/sweep_localpl_fig1.py [--quick]``.
"""

from convtool.sweeps.figure import Figure, main

SPEC = """
name = "local-PL Fig. 1"
[data]
generate = "fig1"
[options]
steps = 2000
c = 0.5
d = 1.01
[grid]
"data.h" = [500, 1000, 4000]
"data.sigma" = [0.5, 1.0, 2.0]
"data.seed" = {range = [0, 30]}
schedule = ["adaptive", "adaptive-bar"]
[quick.options]
steps = 200
[quick.grid]
"data.h" = [60, 120]
"data.sigma" = [1.0]
"data.seed" = [0]
[plot]
x = "data.h"
y = "observed_rate"
hue = "schedule"
predicted = "rhobar0"
logx = true
"""


def claim(groups, rows):
    ok = [r for r in rows if r["run_status"] == "ok"]
    bad = [r for r in ok if r.get("observed_rate") is None or r["observed_rate"] > r["rhobar0"]
           or r["violations.thm31"] or r["violations.thm32"]]
    if bad or not ok:
        return False, f"observed rate above rhobar0 or a violated step in {len(bad)} of {len(ok)} runs"
    return True, (f"held: in all {len(ok)} runs the observed rate is at most rhobar0 and no step violated "
                  f"Theorem 3.1 or 3.2 where it applied")


FIGURE = Figure(name="localpl_fig1", title="Local-PL Fig. 1: observed rate vs Theorem 3.2's rhobar0",
                spec=SPEC, x="data.h", hue="schedule", observed="observed_rate", predicted="rhobar0",
                extra=("violations.thm31", "violations.thm32", "tightness"), claim=claim,
                reference="Local-PL paper, Section 4, Fig. 1 (Theorems 3.1, 3.2 / E.1).")

if __name__ == "__main__":
    main(FIGURE)
