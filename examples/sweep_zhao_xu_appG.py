"""Zhao & Xu, Appendix G as a sweep: the deep linear network's GD trajectory approaches convex GD's as the width grows.

Appendix G: ``Y = W* X + eps`` (X, W*, eps i.i.d. N(0, 1); d = 128 inputs, M = 1000 samples, k = 10
outputs), N = 3 layers of equal hidden width n, Gaussian and orthogonal initializations, 25 steps of
Theorem 1's step; the engine's zhao-xu theory runs convex GD alongside. Observed: the median over repeats of
``max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2``; predicted: Theorem 2's D_R where it applies (the
paper's bound is vacuous, ``n/a``, at these widths: q + 7 tau >= 1). Claim: the distance shrinks as the
width grows, for both initializations. ``python examples/sweep_zhao_xu_appG.py [--quick]``.
"""

from convtool.sweeps.figure import Figure, main

SPEC = """
name = "Zhao & Xu App. G"
model = "deep-linear"
[data]
generate = "zhao-xu"
[options]
steps = 25
depth = 3
[grid]
widths = [128, 200, 500, 1000, 2000]
init = ["gaussian", "orthogonal"]
seed = {range = [0, 5]}
[quick.data]
d = 8
M = 40
k = 2
[quick.grid]
widths = [20, 160]
seed = [0]
[plot]
x = "widths"
y = "zhao_xu.dist_ratio_max"
hue = "init"
predicted = "zhao_xu.thm2_bound_max"
logx = true
logy = true
"""


def claim(groups, rows):
    by_init: dict = {}
    for g in sorted(groups, key=lambda g: g["widths"]):
        by_init.setdefault(g["init"], []).append(g["zhao_xu.dist_ratio_max"])
    shrink = {i: all(a is not None and b is not None and b < a for a, b in zip(v, v[1:])) for i, v in by_init.items()}
    text = "; ".join(f"{i}: {', '.join('n/a' if x is None else f'{x:.3g}' for x in v)}" for i, v in by_init.items())
    held = all(shrink.values())
    return held, (f"{'held' if held else 'did not hold'}: the distance ratio shrinks with the width "
                  f"({text})")


FIGURE = Figure(name="zhao_xu_appG", title="Zhao & Xu App. G: DLN against convex GD as the width grows", spec=SPEC,
                x="widths", hue="init", observed="zhao_xu.dist_ratio_max", predicted="zhao_xu.thm2_bound_max",
                claim=claim, extra=("zhao_xu.q",),
                reference="H. Zhao and J. Xu, TMLR 07/2024, Appendix G and Theorem 2.")

if __name__ == "__main__":
    main(FIGURE)
