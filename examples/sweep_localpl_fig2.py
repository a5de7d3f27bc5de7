"""Local-PL paper, Fig. 2 as a sweep: eq. (19)'s adaptive schedule against Xu et al. (2023) and backtracking.

Fig. 1's data and initialization (sigma = 1, h in {500, 1000, 4000}), 30 repeats; schedules ``adaptive``
(eq. 19 with h = rho), ``xu2023`` (c1 = 0.5, c2 = 1.5, as in Xu et al.'s own runs) and ``backtracking``
(Algorithm 1, tau = 0.1, gamma = 0.9). Claim (Section 4.2): eq. (19) converges fastest, in steps and in
wall time. ``python examples/sweep_localpl_fig2.py [--quick]``.
"""

from convtool.sweeps.figure import Figure, main

SPEC = """
name = "local-PL Fig. 2"
[data]
generate = "fig1"
sigma = 1.0
[options]
steps = 2000
[grid]
"data.h" = [500, 1000, 4000]
"data.seed" = {range = [0, 30]}
schedule = ["adaptive", "xu2023", "backtracking"]
[quick.options]
steps = 300
[quick.grid]
"data.h" = [60]
"data.seed" = [0]
[plot]
x = "data.h"
y = "steps"
hue = "schedule"
logx = true
"""


def claim(groups, rows):
    by_h: dict = {}
    for g in groups:
        by_h.setdefault(g["data.h"], {})[g["schedule"]] = g
    lost = [h for h, gs in by_h.items() if "adaptive" in gs and any(
        o["steps"] is not None and gs["adaptive"]["steps"] is not None and o["steps"] < gs["adaptive"]["steps"]
        for k, o in gs.items() if k != "adaptive")]
    if lost:
        return False, f"another schedule needed fewer steps than eq. (19) at h = {', '.join(map(str, lost))}"
    return True, f"held: eq. (19) needed the fewest steps (median over repeats) at every h ({len(by_h)} widths)"


FIGURE = Figure(name="localpl_fig2", title="Local-PL Fig. 2: steps to tolerance by schedule", spec=SPEC,
                x="data.h", hue="schedule", observed="steps", extra=("observed_rate", "wall_time"), claim=claim,
                reference="Local-PL paper, Section 4.2, Fig. 2; Xu et al. (2023) for xu2023.")

if __name__ == "__main__":
    main(FIGURE)
