"""Zou, Long & Gu, Section 5.2 as a sweep: iterations to L* + eps against depth, the linear ResNet against
the standard deep linear network (``--no-skip``) at the same step.

Section 5 data (d = k = 10, n = 1000, ``Y = -X + 0.1 E``), modified-identity transforms at 1.01 alpha_star
(the smallest scale meeting (4.1), so Theorem 3.1 applies at every depth), m = 40, GD at Theorem 3.1's step
eta_thm31 of each depth; the baseline starts at Gaussian hidden weights N(0, 1/m) and runs at the ResNet's
step of the same depth (the paper gives it none). Observed: iterations to eps = 1e-6 Delta0; predicted:
Theorem 3.1's T_eps. Claim (Section 5.2): the ResNet's iterations do not grow with depth (rho at eta_thm31 is
depth free) and stay within T_eps; the baseline's grow. ``python examples/sweep_zou_long_gu_sec5.py [--quick]``.
"""

import sys

from convtool.sweeps.figure import Figure, main

FULL = {"M": 1000, "depths": (2, 5, 10, 20), "steps": 20000}
QUICK = {"M": 200, "depths": (2, 5), "steps": 4000}
HIDDEN = 40


def build_spec(size) -> str:
    """The spec: explicit points (ResNet and baseline per depth) with each depth's eta_thm31 computed here."""
    from convtool.numeric.generators import zou_long_gu
    from convtool.numeric.resnet import make_transforms
    from convtool.numeric.resnet_constants import compute_resnet_constants

    data = zou_long_gu(M=size["M"])
    a_star = compute_resnet_constants(data["X"], data["Y"], *make_transforms("modified-identity", d=10, k=10,
                                                                             m=HIDDEN), depth=2).quantities["alpha_star"]
    alpha = 1.01 * a_star
    points = []
    for L in size["depths"]:
        A, B = make_transforms("modified-identity", d=10, k=10, m=HIDDEN, alpha_mod=alpha)
        eta = compute_resnet_constants(data["X"], data["Y"], A, B, depth=L).quantities["eta_thm31"]
        for skip in (True, False):
            points.append(f'[[point]]\ndepth = {L}\nno_skip = {str(not skip).lower()}\n'
                          f'schedule = "{"thm31" if skip else "constant"}"\n'
                          + ("" if skip else f"eta = {eta!r}\n"))
    return (f'name = "Zou, Long & Gu Sec. 5.2"\nmodel = "resnet"\n[data]\ngenerate = "zou-long-gu"\nM = {size["M"]}\n'
            f'[options]\nsteps = {size["steps"]}\ntransform = "modified-identity"\nhidden = {HIDDEN}\n'
            f'alpha_mod = {alpha!r}\ntol = 1e-300\n'
            + "".join(points)
            + '[plot]\nx = "depth"\ny = "zou_long_gu.steps_to_eps"\nhue = "no_skip"\npredicted = "const.T_eps"\n'
              'logy = true\n')


def claim(groups, rows):
    res = sorted((g for g in groups if g["no_skip"] is False), key=lambda g: g["depth"])
    base = sorted((g for g in groups if g["no_skip"] is True), key=lambda g: g["depth"])
    it = [g["zou_long_gu.steps_to_eps"] for g in res]
    flat = all(x is not None for x in it) and max(it) <= 1.5 * min(it)
    within = all(x is not None and t is not None and x <= t for x, t in zip(it, (g["const.T_eps"] for g in res)))
    bi = [g["zou_long_gu.steps_to_eps"] for g in base]
    grows = all(b is None or (a is not None and b >= a) for a, b in zip(bi, bi[1:])) and (bi[-1] is None or bi[-1] > bi[0])
    fmt = lambda v: ", ".join("not reached" if x is None else str(int(x)) for x in v)  # noqa: E731
    held = flat and within and grows
    return held, (f"{'held' if held else 'did not hold'}: ResNet iterations to eps by depth "
                  f"{', '.join(str(g['depth']) for g in res)}: {fmt(it)} (flat: {flat}; within T_eps: {within}); "
                  f"no-skip baseline: {fmt(bi)} (grows: {grows})")


def figure(quick: bool = False) -> Figure:
    return Figure(name="zou_long_gu_sec5", title="Zou, Long & Gu Sec. 5.2: iterations to eps against depth",
                  spec=build_spec(QUICK if quick else FULL), x="depth", hue="no_skip",
                  observed="zou_long_gu.steps_to_eps", predicted="const.T_eps", claim=claim,
                  reference="D. Zou, P. M. Long, Q. Gu, ICLR 2020 (arXiv:2003.01094), Section 5.2 and Theorem 3.1.")


if __name__ == "__main__":
    main(figure("--quick" in sys.argv))
