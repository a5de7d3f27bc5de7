"""Zou, Long & Gu, Section 5.2 as a sweep: iterations to L* + eps against depth, the linear ResNet against
the standard deep linear network (``--no-skip``) at the same step, and the Section 4 transforms compared.

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


TRANSFORMS = ("modified-identity", "gaussian")


def build_spec(size) -> str:
    """The spec: explicit points (per depth: the ResNet with each Section 4 transform at its own eta_thm31, and
    the no-skip baseline at the modified-identity ResNet's step) with the steps computed here."""
    from convtool.numeric.generators import zou_long_gu
    from convtool.numeric.resnet import make_transforms
    from convtool.numeric.resnet_constants import compute_resnet_constants

    data = zou_long_gu(M=size["M"])
    a_star = compute_resnet_constants(data["X"], data["Y"], *make_transforms("modified-identity", d=10, k=10,
                                                                             m=HIDDEN), depth=2).quantities["alpha_star"]
    alpha = 1.01 * a_star
    points = []
    for L in size["depths"]:
        for tr in TRANSFORMS:
            A, B = make_transforms(tr, d=10, k=10, m=HIDDEN, **({"alpha_mod": alpha} if tr == "modified-identity" else {}))
            eta = compute_resnet_constants(data["X"], data["Y"], A, B, depth=L).quantities["eta_thm31"]
            points.append(f'[[point]]\ndepth = {L}\ntransform = "{tr}"\nno_skip = false\nschedule = "thm31"\n'
                          + (f"alpha_mod = {alpha!r}\n" if tr == "modified-identity" else ""))
            if tr == "modified-identity":
                points.append(f'[[point]]\ndepth = {L}\ntransform = "{tr}"\nalpha_mod = {alpha!r}\nno_skip = true\n'
                              f'schedule = "constant"\neta = {eta!r}\n')
    return (f'name = "Zou, Long & Gu Sec. 5"\nmodel = "resnet"\n[data]\ngenerate = "zou-long-gu"\nM = {size["M"]}\n'
            f'[options]\nsteps = {size["steps"]}\nhidden = {HIDDEN}\ntol = 1e-300\n'
            + "".join(points)
            + '[plot]\nx = "depth"\ny = "zou_long_gu.steps_to_eps"\nhue = "variant"\npredicted = "const.T_eps"\n'
              'logy = true\n')


def derive(row):
    return {"variant": f"{row.get('transform')}{' no-skip' if row.get('no_skip') else ' ResNet'}"}


def claim(groups, rows):
    def series(variant):
        gs = sorted((g for g in groups if g["variant"] == variant), key=lambda g: g["depth"])
        return gs, [g["zou_long_gu.steps_to_eps"] for g in gs]

    fmt = lambda v: ", ".join("not reached" if x is None else str(int(x)) for x in v)  # noqa: E731
    res, it = series("modified-identity ResNet")
    flat = all(x is not None for x in it) and max(it) <= 1.5 * min(it)
    within = all(x is not None and g["const.T_eps"] is not None and x <= g["const.T_eps"] for g, x in zip(res, it))
    _, bi = series("modified-identity no-skip")
    grows = all(b is None or (a is not None and b >= a) for a, b in zip(bi, bi[1:])) and (bi[-1] is None or bi[-1] > bi[0])
    _, gi = series("gaussian ResNet")
    held = flat and within and grows
    return held, (f"{'held' if held else 'did not hold'}: ResNet (modified identity) iterations to eps by depth "
                  f"{', '.join(str(g['depth']) for g in res)}: {fmt(it)} (flat: {flat}; within T_eps: {within}); "
                  f"no-skip baseline: {fmt(bi)} (grows: {grows}); ResNet with Gaussian transforms at its own "
                  f"eta_thm31: {fmt(gi)}")


def figure(quick: bool = False) -> Figure:
    return Figure(name="zou_long_gu_sec5", title="Zou, Long & Gu Sec. 5.2: iterations to eps against depth",
                  spec=build_spec(QUICK if quick else FULL), x="depth", hue="variant", derive=derive,
                  observed="zou_long_gu.steps_to_eps", predicted="const.T_eps", claim=claim,
                  reference="D. Zou, P. M. Long, Q. Gu, ICLR 2020 (arXiv:2003.01094), Section 5.2 and Theorem 3.1.")


if __name__ == "__main__":
    main(figure("--quick" in sys.argv))
