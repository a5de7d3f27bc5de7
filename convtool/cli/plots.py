"""Figures of ``convtool run --plot`` and ``convtool compare --plot`` (optional extra ``plot``).

matplotlib is imported inside the functions, never at import time, and only
through its object-oriented API with the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, no window. Without
matplotlib :func:`require_matplotlib` raises the CLI's one-line error.

* :func:`plot_run` -- Fig. 1's two panels: L(t) on a log axis (per seed, median) against the bound that
  covers each step, drawn only there (Theorem 3.1's rho-product where eta_t K_t < 2, Theorem 3.2's in its
  range; an omitted bound is named in the legend with the reason); and eta_t with eta_hat_t = 1/K_t.
* :func:`plot_compare` -- Fig. 2: median and per-seed L(t) per schedule (distinct colours, line styles and
  markers) and a step-size panel.
* :func:`plot_deep_linear_run`, :func:`plot_width_compare` -- Zhao & Xu's comparison of the deep linear network
  with convex GD (Theorem 1, Theorem 2, Lemma 5, eq. (10); Appendix G's Figure 1 by width);
  :func:`plot_resnet_run` (Zou, Long & Gu, Theorems 3.1, 3.6, 3.8), :func:`plot_mlp_run` (Du, Hu & Lee's
  balancedness), :func:`plot_shallow_run` (Song et al., Theorem 2).

Every figure follows the same rules: a bound is drawn only on the steps where its check applies (a bound
covering no step, or only some, gets a legend entry saying so and why); observed curves per seed (thin) with
the median over seeds (thick); distinct line styles as well as colours; a step-size panel; log axes for the
log quantities, the y range set by the observed curves (a bound may extend it, at most 1e4 times further);
mathtext labels.

The file format follows the extension (:data:`PLOT_FORMATS`: .png, .pdf, .svg); ``dpi`` for .png. Every
function returns the matplotlib ``Figure``; with ``path=None`` it writes no file.
"""

from __future__ import annotations

import warnings

__all__ = ["require_matplotlib", "plot_run", "plot_compare", "plot_format", "thm31_chain", "PLOT_FORMATS",
           "plot_deep_linear_run", "plot_width_compare", "plot_resnet_run", "plot_mlp_run", "plot_shallow_run"]

INSTALL_HINT = "pip install convtool[plot]"


def require_matplotlib() -> None:
    """Raise :class:`~convtool.cli.errors.ConvtoolInputError` (one line) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--plot needs matplotlib, which is not installed ({exc}); "
                                 f"install it with `{INSTALL_HINT}`") from None


def _figure(nrows: int, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _log10_stats(arr):
    """Mean and std over seeds (axis 0) of log10 of the positive entries; NaN where none."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lg = np.log10(np.where(np.asarray(arr) > 0, arr, np.nan))
        return np.nanmean(lg, axis=0), np.nanstd(lg, axis=0)


def _nanmean(arr):
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(arr, dtype=float), axis=0)


#: file formats of a plot, by extension (the format follows the file name)
PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def plot_format(path) -> str:
    """The format of a plot file from its extension; one-line error for any other extension."""
    import os

    ext = os.path.splitext(str(path))[1].lower()
    if ext not in PLOT_FORMATS:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--plot {path}: unknown plot format {ext or '(no extension)'!r}; end the file "
                                 f"name with {', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[ext]


def _save(fig, path, dpi: int | None = None) -> None:
    """Write ``fig`` to ``path`` in the format of its extension; ``path=None`` writes nothing (the figure is
    returned for a notebook, or for inspecting its artists)."""
    if path is None:
        return
    from convtool.files import atomic_write

    fmt = plot_format(path)
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi or 120, format=fmt))


def _quiet(func):
    """Run a plotting function with numpy's floating-point warnings off: a diverged run's inf and NaN
    are drawn as gaps, which is the figure's meaning, not something to warn about on stderr."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import numpy as np

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return func(*args, **kwargs)

    return wrapper


def _positive(x):
    import numpy as np

    x = np.asarray(x, dtype=float)
    return np.where(np.isfinite(x) & (x > 0), x, np.nan)


def _median(arr):
    """Median over seeds (axis 0) of the finite positive entries; NaN where no seed has one.

    Unlike the mean over the seeds still running, the median does not jump when a fast seed stops:
    a stopped seed's last value is carried on (it is where that seed stays)."""
    import numpy as np

    a = _positive(arr)
    if a.ndim == 1:
        return a
    held = a.copy()
    for r in range(a.shape[0]):  # carry each seed's last value on after it stopped
        ok = np.flatnonzero(np.isfinite(a[r]))
        if ok.size:
            held[r, ok[-1] + 1:] = a[r, ok[-1]]
    return np.nanmedian(held, axis=0) if np.isfinite(held).any() else held[0]


def _as2d(x):
    import numpy as np

    x = np.asarray(x, dtype=float)
    return x[None, :] if x.ndim == 1 else x


def thm31_chain(loss, rho, applies):
    """Theorem 3.1's rho-product, chained only through steps where it applies (eta_t K_t < 2):
    on each maximal run of applicable steps a..b-1 the bound is ``L(a) prod_{s=a}^{t-1} rho(eta_s, s)`` for
    t = a+1..b (and L(a) at a); NaN elsewhere. (R, T+1) from loss (R, T+1), rho and applies (R, T).

    >>> import numpy as np
    >>> thm31_chain(np.array([[8., 4, 2, 1]]), np.array([[.5, .9, .5]]), np.array([[True, False, True]]))
    array([[8., 4., 2., 1.]])
    """
    import numpy as np

    L, rho, app = _as2d(loss), _as2d(rho), np.atleast_2d(np.asarray(applies, dtype=bool))
    out = np.full(L.shape, np.nan)
    for r in range(L.shape[0]):
        T = app.shape[1]
        t = 0
        while t < T:
            if not app[r, t] or not np.isfinite(rho[r, t]):
                t += 1
                continue
            out[r, t] = L[r, t]
            while t < T and app[r, t] and np.isfinite(rho[r, t]):
                out[r, t + 1] = out[r, t] * rho[r, t]
                t += 1
    return out


def _omitted(ax, text: str) -> None:
    """A legend entry (no line) saying a bound is not drawn, and why."""
    import textwrap

    ax.plot([], [], " ", label=textwrap.fill(text, 70))


def _log_limits(ax, curves) -> None:
    """y range of a log axis from ``curves`` only (the Problem-1 reference, which drops to round-off within a
    step or two, then does not squash the schedules' curves)."""
    import numpy as np

    vals = np.concatenate([np.ravel(_positive(c)) for c in curves]) if curves else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size:
        lo, hi = float(vals.min()), float(vals.max())
        ax.set_ylim(lo / 3.0, hi * 3.0)


@_quiet
def plot_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """Write ``convtool run``'s figure for a :class:`~convtool.numeric.engine.RunResult` (format from the extension).

    Panel 1, log scale: L(t) (per seed, and the median over seeds for several), and for each theorem the bound
    only where it covers the step: Theorem 3.1's rho-product chained through the steps with eta_t K_t < 2;
    Theorem 3.2's ``L0 prod_s rhobar`` and ``L0 rhobar0^t`` only on the steps in its range. A bound that
    covers no step gets a legend entry saying it is omitted and why. Panel 2: eta_t and 1/K_t (log scale).
    """
    import numpy as np

    a = result.arrays
    fig, (ax_l, ax_e) = _figure(2, 6.5)
    L = _as2d(a["loss"])
    R = L.shape[0]
    t = np.arange(L.shape[1])
    drawn = [L]
    if R > 1:
        for r in range(R):
            ax_l.plot(t, _positive(L[r]), color="C0", lw=0.6, alpha=0.35,
                      label=f"$L(t)$ per seed ({R} seeds)" if r == 0 else None)
        ax_l.plot(t, _median(L), color="C0", lw=1.8, label=r"$L(t)$, median over seeds")
    else:
        ax_l.plot(t, _positive(L[0]), color="C0", lw=1.8, label=r"$L(t) = \ell(W(t)) - \ell^*$")
    if "thm31_applicable" in a:
        app31 = np.atleast_2d(np.asarray(a["thm31_applicable"], dtype=bool))
        if app31.any():
            chain = thm31_chain(L, a["rho"], app31)
            ax_l.plot(t, _bound_median(chain), color="C1", ls="--", lw=1.3,
                      label=r"Thm 3.1: $L(a)\prod_{s\geq a}\rho(\eta_s, s)$ where $\eta_s K_s < 2$"
                            + f" ({int(app31.sum())} steps)")
            drawn.append(chain)
        else:
            _omitted(ax_l, "Thm 3.1 bound omitted: eta_t K_t < 2 at no step")
        app32 = np.atleast_2d(np.asarray(a["thm32_in_range"], dtype=bool))
        if app32.any():
            # a state record t+1 is covered when step t was in range (and t = 0 when step 0 was)
            cov = np.zeros(L.shape, dtype=bool)
            cov[:, 1:] = app32
            cov[:, 0] = app32[:, 0]
            for key, style, text in (("bound_prod", dict(color="C3", ls="-."),
                                      r"Thm 3.2: $L_0\prod_s\bar\rho(\eta_s, s)$"),
                                     ("bound_rhobar0", dict(color="C2", ls=":"), r"Thm 3.2: $L_0\bar\rho_0^{\,t}$")):
                b = np.where(cov, _as2d(a[key]), np.nan)
                if np.isfinite(_positive(b)).any():
                    ax_l.plot(t, _bound_median(b), lw=1.3, label=text + f" (in range on {int(app32.sum())} steps)",
                              **style)
                    drawn.append(b)
            if not app32.all() and int(app32.sum()) < int(np.sum(result.steps)):
                _omitted(ax_l, f"Thm 3.2 drawn only on its {int(app32.sum())} of {int(np.sum(result.steps))} "
                               f"steps in range")
        else:
            _omitted(ax_l, "Thm 3.2 bound omitted: the schedule is outside its range at every step "
                           "(Lemma E.3 at T0, eq. (89), Lemma E.4)")
    if "reference_loss" in a:
        ref = _as2d(a["reference_loss"])
        ax_l.plot(np.arange(ref.shape[1]), _median(ref), color="0.45", lw=1.0, ls=(0, (1, 1)),
                  label=r"GD on Problem 1, $\eta = 1/K$ (Fig. 4; may leave the axis)")
    ax_l.set_yscale("log")
    _log_limits(ax_l, drawn)
    ax_l.set_ylabel(r"excess loss $L(t)$")
    ax_l.legend(loc="best", fontsize=7)
    ax_l.grid(alpha=0.3, which="both")
    ax_l.set_title(title or f"convtool run: {result.schedule.get('name')}", fontsize=10)

    eta, hat = _as2d(a["eta"]), _as2d(a["eta_hat"]) if "eta_hat" in a else None
    ts = np.arange(eta.shape[1])
    ax_e.plot(ts, _median(eta), color="C0", lw=1.6, label=r"$\eta_t$" + (" (median over seeds)" if R > 1 else ""))
    if hat is not None and np.isfinite(_positive(hat)).any():
        ax_e.plot(ts, _median(hat), color="C1", ls="--", lw=1.3, label=r"$\hat\eta_t = 1/K_t$")
    if np.isfinite(_positive(eta)).any():
        ax_e.set_yscale("log")
    ax_e.set_xlabel(r"step $t$")
    ax_e.set_ylabel(r"step size")
    ax_e.legend(loc="best", fontsize=8)
    ax_e.grid(alpha=0.3, which="both")
    _save(fig, path, dpi)
    return fig


#: line styles of the compared schedules (with the colours, so no curve hides another: adaptive = constant)
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 2, 2, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@_quiet
def plot_compare(cmp, path, title: str = "", dpi: int | None = None) -> "Figure":
    """Write ``convtool compare``'s figure for a :class:`~convtool.numeric.experiments.CompareResult`.

    Panel 1 (log scale): per schedule the median L(t) over seeds (thick) and each seed (thin), in its own
    colour, line style and marker; the Problem-1 reference in grey, not counted in the y range (it drops to
    round-off at once). Panel 2 (log scale): the step size eta_t per schedule (median over seeds), as in
    the paper's Fig. 2.
    """
    import numpy as np

    fig, (ax, ax_e) = _figure(2, 7.0)
    drawn = []
    for i, row in enumerate(cmp.rows):
        ref = row.name.startswith("problem-1")
        res = cmp.runs.get(row.name)
        if ref:
            first = next(iter(cmp.runs.values()), None)
            if first is not None and "reference_loss" in first.arrays:
                L = _as2d(first.arrays["reference_loss"])
            else:
                L = 10.0 ** _as2d(row.loss_mean)
            ax.plot(np.arange(L.shape[1]), _median(L), color="0.45", lw=1.0, ls=(0, (1, 1)),
                    label=r"problem-1 ($\eta = 1/K$; not in the y range)")
            continue
        if res is None:
            continue
        L = _as2d(res.arrays["loss"])
        color, ls = f"C{i % 10}", LINE_STYLES[i % len(LINE_STYLES)]
        mk = MARKERS[i % len(MARKERS)]
        t = np.arange(L.shape[1])
        every = max(1, L.shape[1] // 8)
        if L.shape[0] > 1:
            for r in range(L.shape[0]):
                ax.plot(t, _positive(L[r]), color=color, ls=ls, lw=0.5, alpha=0.3)
        ax.plot(t, _median(L), color=color, ls=ls, lw=1.7, marker=mk, markevery=(i % every, every), ms=4,
                label=row.name + (" (median; thin: seeds)" if L.shape[0] > 1 else ""))
        drawn.append(L)
        eta = _as2d(res.arrays["eta"])
        ax_e.plot(np.arange(eta.shape[1]), _median(eta), color=color, ls=ls, lw=1.4, marker=mk,
                  markevery=(i % every, every), ms=4, label=row.name)
    ax.set_yscale("log")
    _log_limits(ax, drawn)
    ax.set_ylabel(r"excess loss $L(t)$")
    ax.set_title(title or "convtool compare", fontsize=10)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3, which="both")
    if ax_e.lines:
        ax_e.set_yscale("log")
        ax_e.legend(loc="best", fontsize=7)
    ax_e.set_xlabel(r"step $t$")
    ax_e.set_ylabel(r"step size $\eta_t$")
    ax_e.grid(alpha=0.3, which="both")
    _save(fig, path, dpi)
    return fig


# ------------------------------------------------------------------ pieces shared by the model plots


def _bool2d(x):
    import numpy as np

    return np.atleast_2d(np.asarray(x, dtype=bool))


def _cover(app, first: bool = True):
    """The states a per-step check covers, (R, T+1) from ``app`` (R, T): state t+1 where step t applies, and
    state 0 where step 0 does (``first``; a bound whose state-0 value is the observed one)."""
    import numpy as np

    app = _bool2d(app)
    cov = np.zeros((app.shape[0], app.shape[1] + 1), dtype=bool)
    cov[:, 1:] = app
    if first and app.shape[1]:
        cov[:, 0] = app[:, 0]
    return cov


def _states(step_values, first=None):
    """An (R, T+1) state record from a record of state t+1 per step ((R, T)); state 0 is ``first`` (or NaN)."""
    import numpy as np

    v = _as2d(step_values)
    out = np.full((v.shape[0], v.shape[1] + 1), np.nan)
    out[:, 1:] = v
    if first is not None:
        out[:, 0] = np.broadcast_to(np.asarray(first, dtype=float), (v.shape[0],))
    return out


def _bound_median(b):
    """Median over seeds of a bound, NaN wherever no seed has it (no carrying on: a bound is drawn only where
    it applies, unlike :func:`_median` of an observed curve, which carries a stopped seed's last value)."""
    import numpy as np

    b = _positive(b)
    if b.ndim == 1:
        return b
    out = np.full(b.shape[1], np.nan)
    ok = np.isfinite(b).any(axis=0)
    out[ok] = np.nanmedian(b[:, ok], axis=0)
    return out


def _observed(ax, arr, color, label: str, ls="-", marker=None, every=None):
    """An observed quantity: thin per-seed lines and the median over seeds (thick); one line for one seed.
    Returns the (R, T) array (for the y range)."""
    import numpy as np

    A = _as2d(arr)
    R, n = A.shape
    t = np.arange(n)
    mk = dict(marker=marker, markevery=every or max(1, n // 8), ms=4) if marker else {}
    if R > 1:
        for r in range(R):
            ax.plot(t, _positive(A[r]), color=color, ls=ls, lw=0.5, alpha=0.3)
        ax.plot(t, _median(A), color=color, ls=ls, lw=1.8, label=label + f" (median; thin: {R} seeds)", **mk)
    else:
        ax.plot(t, _positive(A[0]), color=color, ls=ls, lw=1.8, label=label, **mk)
    return A


def _bound(ax, values, name: str, label: str, why: str, total: int, covered=None, n_steps=None, omit_entry=True,
           why_partial: str | None = None, **style):
    """Draw a bound (R, T+1 state values) on the states in ``covered`` only (median over seeds), labelled
    ``label`` with the number of steps it covers. Where it covers no step, a legend entry ``NAME omitted: why``;
    where it covers some steps only, ``NAME not drawn on the other k steps: why_partial`` (default ``why``).
    Returns ``(line, values)``
    or None (``omit_entry=False``: no omitted entry, the caller writes one for several bounds)."""
    import numpy as np

    b = _as2d(values)
    if covered is not None:
        b = np.where(_bool2d(covered), b, np.nan)
    med = _bound_median(b)
    n = int(n_steps or 0)
    if n and np.isfinite(med).any():
        part = f"all {total} steps" if n >= total else f"on {n} of {total} steps"
        part = f" ({part}" + (f", {b.shape[0]} seeds together)" if b.shape[0] > 1 else ")")
        (line,) = ax.plot(np.arange(med.shape[0]), med, lw=1.3, label=label + part, **style)
        if n < total:
            _omitted(ax, f"{name} not drawn on the other {total - n} steps: {why_partial or why}")
        return line, b
    if omit_entry:
        _omitted(ax, f"{name} omitted: {why}")
    return None


def _finish_log_axis(ax, observed, bounds=(), ylabel: str = "", spread: float = 1e4) -> None:
    """Log y axis whose range holds the observed curves and the drawn bounds, a bound reaching no further than
    ``spread`` times beyond the observed range (a bound that leaves the axis says so in its legend entry)."""
    import numpy as np

    def finite(curves):
        vals = np.concatenate([np.ravel(_positive(c)) for c in curves]) if curves else np.array([])
        return vals[np.isfinite(vals)]

    obs = finite(list(observed))
    drawn = [b for b in bounds if b is not None]
    bnd = finite([b[1] for b in drawn])
    if obs.size or bnd.size:
        ax.set_yscale("log")
        lo, hi = (float(obs.min()), float(obs.max())) if obs.size else (float(bnd.min()), float(bnd.max()))
        if bnd.size:
            lo, hi = max(min(lo, float(bnd.min())), lo / spread), min(max(hi, float(bnd.max())), hi * spread)
        ax.set_ylim(lo / 3.0, hi * 3.0)
        for line, b in drawn:
            v = finite([b])
            if v.size and (v.max() > hi * 3.0 or v.min() < lo / 3.0):
                line.set_label(line.get_label() + "; leaves the axis")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=6.5)


def _step_panel(ax, series, refs=()) -> None:
    """Step-size panel: ``series`` of (eta (R, T), colour, label, line style), ``refs`` of (value, label, style)
    horizontal lines; log scale where positive."""
    import numpy as np

    drawn = []
    for eta, color, label, ls in series:
        drawn.append(_observed(ax, eta, color, label, ls=ls))
    for value, label, style in refs:
        if value is not None and np.isfinite(value) and value > 0:
            ax.axhline(value, lw=0.9, label=label, **style)
            drawn.append(np.array([[value]]))
    _finish_log_axis(ax, drawn, ylabel="step size")
    ax.set_xlabel(r"step $t$")


def _total(result) -> int:
    import numpy as np

    return int(np.sum(np.atleast_1d(result.steps)))


def _median_of(values):
    import numpy as np

    vals = [float(v) for v in np.atleast_1d(values if values is not None else []) if v is not None and np.isfinite(v)]
    return float(np.median(vals)) if vals else None


# ------------------------------------------------------------------ deep linear network (Zhao & Xu)

#: Zhao & Xu's bounds, with the reason shown when one covers no step (the run's own reason comes first)
DLN_WHY = {"thm1": "eta_* = 1/beta (Theorem 1's step) at no step",
           "thm2": "q + 7 tau >= 1 (or q outside (0, 1)) at every step: the bound is vacuous",
           "lemma5": "q + 7 tau >= 1 at every step: the bound is vacuous",
           "cvx_q": "eta_* >= 2/beta at every step"}


#: why a bound is not drawn on the other steps when it covers some (the conditions are per step there)
DLN_WHY_PARTIAL = {"thm1": "eta_* differs from 1/beta there",
                   "thm2": "q + 7 tau >= 1 there (q, tau: their running maxima), or q outside (0, 1)",
                   "lemma5": "q + 7 tau >= 1 there (q, tau: their running maxima)",
                   "cvx_q": "eta_* >= 2/beta there"}


def _dln_why(key: str, viol: dict, z: dict) -> str:
    return viol.get(f"{key}_not_applicable") or (z.get("thm1_not_applicable") if key == "thm1" else None) \
        or DLN_WHY[key]


@_quiet
def plot_deep_linear_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """``run --model deep-linear --plot``: Zhao & Xu (TMLR 07/2024, OpenReview jG7ndW7UHp)'s comparison, five panels.

    (1) E_DLN(t) and E(t) of convex GD from W(0) = a_N W_{N:1}(0) with eta_* = N eta/n_N (Appendix G's
    Figure 1, per seed and median), with Theorem 1's ``E_DLN(a) (1 - (1 - eps)/kappa)^(t-a)`` chained through
    the steps where Theorem 1 applies; (2) Theorem 2: ``||V(t) - W(t)||_X^2`` against ``D_R(t) ||V(0) -
    W*||_X^2`` where it applies; (3) Lemma 5: ``||V(t) - W*||_X^2`` against ``(q + 7 tau)^t ||V(0) - W*||_X^2``,
    and eq. (10): ``||W(t) - W*||_X^2`` against its q-contraction chain; (4) eta_t and eta_*,t with 1/beta
    (Theorem 1's eta_*) and 2/beta; (5) tau_hat(t) (Lemma 4), q + 7 tau (Lemma 5's rate) and P(t)'s
    spectrum. A bound is drawn only on the steps where its check applies; otherwise a legend entry says it is
    omitted and why. Log axes throughout.
    """
    import numpy as np

    a = result.arrays
    s = result.summary()
    z, viol = s.get("zhao_xu") or {}, s.get("violations") or {}
    total = _total(result)
    fig, (ax_e, ax_2, ax_5, ax_s, ax_t) = _figure(5, 13.0)

    obs = [_observed(ax_e, a["loss"], "C0", r"$E_{DLN}(t)$", marker="o"),
           _observed(ax_e, a["E_cvx"], "C1", r"$E(t)$, convex GD with $\eta_* = N\eta/n_N$", ls="--", marker="s")]
    app1 = _bool2d(a["thm1_applies"])
    r1 = z.get("rate_thm1")
    chain = thm31_chain(a["loss"], np.full(app1.shape, np.nan if r1 is None else float(r1)), app1)
    b1 = _bound(ax_e, chain, "Thm 1 bound", r"Thm 1: $E_{DLN}(a)\,(1 - (1-\epsilon)/\kappa)^{t-a}$",
                _dln_why("thm1", viol, z), total, why_partial=DLN_WHY_PARTIAL["thm1"], n_steps=app1.sum(),
                color="C3", ls=":")
    _finish_log_axis(ax_e, obs, [b1], ylabel="excess loss")
    ax_e.set_title(title or f"convtool run --model deep-linear: {result.schedule.get('name')}", fontsize=10)

    dist = _observed(ax_2, a["dist_X_sq"], "C0", r"$\|V(t) - W(t)\|_X^2$")
    app2 = _bool2d(a["thm2_applies"])
    b2 = _bound(ax_2, _states(a["thm2_bound"]), "Thm 2 bound", r"Thm 2: $D_R(t)\,\|V(0) - W^*\|_X^2$",
                _dln_why("thm2", viol, z), total, why_partial=DLN_WHY_PARTIAL["thm2"],
                covered=_cover(app2, first=False), n_steps=app2.sum(), color="C3", ls="--")
    _finish_log_axis(ax_2, [dist], [b2], ylabel=r"$\|V - W\|_X^2$ (Theorem 2)")

    dln = _as2d(a["dln_X_sq"])
    cvx = _as2d(a["cvx_X_sq"])
    o5 = [_observed(ax_5, dln, "C2", r"$\|V(t) - W^*\|_X^2$ (DLN)"),
          _observed(ax_5, cvx, "C1", r"$\|W(t) - W^*\|_X^2$ (convex GD)", ls="--")]
    app5 = _bool2d(a["lemma5_applies"])
    b5 = _bound(ax_5, _states(a["lemma5_bound"], dln[:, 0]), "Lemma 5 bound",
                r"Lemma 5: $(q + 7\tau)^t\,\|V(0) - W^*\|_X^2$", _dln_why("lemma5", viol, z), total,
                why_partial=DLN_WHY_PARTIAL["lemma5"], covered=_cover(app5), n_steps=app5.sum(), color="C2", ls=":")
    appq = _bool2d(a["cvx_q_applies"])
    bq = _bound(ax_5, thm31_chain(cvx, a["q"], appq), "eq. (10) bound",
                r"eq. (10): $\|W(a) - W^*\|_X^2 \prod_{s \geq a} q_s$", _dln_why("cvx_q", viol, z), total,
                why_partial=DLN_WHY_PARTIAL["cvx_q"], n_steps=appq.sum(), color="C4", ls="-.")
    _finish_log_axis(ax_5, o5, [b5, bq], ylabel="squared $X$-distance to $W^*$")

    beta = z.get("beta")
    _step_panel(ax_s, [(a["eta"], "C0", r"$\eta_t$ (DLN)", "-"),
                       (a["eta_star"], "C1", r"$\eta_{*,t} = N\eta_t/n_N$ (convex GD)", "--")],
                refs=[(1.0 / beta if beta else None, r"$1/\beta$ (Theorem 1's $\eta_*$)", dict(color="C3", ls=":")),
                      (2.0 / beta if beta else None, r"$2/\beta$ (eq. (10) needs $\eta_* < 2/\beta$)",
                       dict(color="0.4", ls=(0, (1, 1))))])
    ax_s.set_xlabel("")

    tau = [_observed(ax_t, a["tau_hat"], "C0", r"$\hat\tau(t)$ (Lemma 4)")]
    if "tau_run" in a and "q" in a:
        tau.append(_observed(ax_t, _as2d(a["q"]) + 7 * _as2d(a["tau_run"]), "C3",
                             r"$q + 7\tau$ (Lemma 5's rate; $< 1$ needed)", ls="--"))
    for key, color, mk in (("p_lo", "C1", "v"), ("p_hi", "C2", "^")):
        if key in a:
            p = _bound_median(a[key])
            ok = np.isfinite(p)
            if ok.any():
                ax_t.plot(np.arange(p.shape[0])[ok], p[ok], color=color, marker=mk, ms=3, ls="-", lw=0.8,
                          label=rf"$p_{{{key[2:]}}}$ of $P(t)$ ($n_N/N$ scaled)")
                tau.append(p)
    ax_t.axhline(1.0, color="0.3", lw=0.8, ls=(0, (1, 1)), label="1")
    _finish_log_axis(ax_t, tau, ylabel="ratios")
    ax_t.set_xlabel(r"step $t$")
    _save(fig, path, dpi)
    return fig


@_quiet
def plot_width_compare(cmp, path, title: str = "", dpi: int | None = None) -> "Figure":
    """``compare --model deep-linear --plot``: Zhao & Xu's Appendix G Figure 1 on one figure, by hidden width.

    (1) E_DLN(t) (solid, one colour and marker per width) and E(t) of the corresponding convex GD (dashed,
    the width's colour), per seed (thin, "without averaging" as in the paper) and median; (2) Theorem 2:
    ``||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2`` per width against ``D_R(t)`` where it applies (an omitted-bound
    legend entry per width otherwise); (3) the step size eta_*,t per width. Log axes. One init scheme per
    figure (``--init``; the paper's Figure 1 puts Gaussian and orthogonal side by side). Reading choice: the
    paper plots "the logarithm of loss"; here it is the excess loss E = L - L* on a log axis (the loss itself
    flattens at L* > 0 on Appendix G's noisy data, about 4275.7, which hides the comparison).
    """
    fig, (ax_e, ax_d, ax_s) = _figure(3, 10.0)
    obs_e, obs_d, bounds, steps, omitted = [], [], [], [], {}
    for i, (w, res) in enumerate(cmp.runs.items()):
        a = res.arrays
        s = res.summary()
        z, viol = s.get("zhao_xu") or {}, s.get("violations") or {}
        color, mk, ls = f"C{i % 10}", MARKERS[i % len(MARKERS)], LINE_STYLES[i % len(LINE_STYLES)]
        every = max(1, _as2d(a["loss"]).shape[1] // 8)
        obs_e.append(_observed(ax_e, a["loss"], color, rf"width {w}: $E_{{DLN}}(t)$", marker=mk,
                               every=(i % every, every)))
        obs_e.append(_observed(ax_e, a["E_cvx"], color, rf"width {w}: $E(t)$ convex", ls="--"))
        d0 = _as2d(a["dln_X_sq"])[:, :1]
        obs_d.append(_observed(ax_d, _as2d(a["dist_X_sq"]) / d0, color,
                               rf"width {w}: $\|V - W\|_X^2 / \|V(0) - W^*\|_X^2$", ls=ls, marker=mk,
                               every=(i % every, every)))
        app2 = _bool2d(a["thm2_applies"])
        why = _dln_why("thm2", viol, z)
        b = _bound(ax_d, _states(_as2d(a["thm2_bound"]) / d0), f"width {w}: Thm 2 bound",
                   rf"width {w}: Thm 2, $D_R(t)$", why, _total(res), covered=_cover(app2, first=False),
                   why_partial=DLN_WHY_PARTIAL["thm2"],
                   n_steps=app2.sum(), omit_entry=False, color=color, ls=":")
        if b is None:
            omitted.setdefault(why, []).append(str(w))
        bounds.append(b)
        steps.append((a["eta_star"], color, rf"width {w}: $\eta_{{*,t}}$", ls))
    for why, ws in omitted.items():  # one entry per reason, naming the widths
        _omitted(ax_d, f"Thm 2 bound omitted at width{'s' if len(ws) > 1 else ''} {', '.join(ws)}: {why}")
    _finish_log_axis(ax_e, obs_e, ylabel="excess loss")
    ax_e.set_title(title or "convtool compare --model deep-linear", fontsize=10)
    _finish_log_axis(ax_d, obs_d, bounds, ylabel="distance ratio (Theorem 2)")
    _step_panel(ax_s, steps)
    _save(fig, path, dpi)
    return fig


# ------------------------------------------------------------------ linear ResNet (Zou, Long & Gu)

def _thm31_why(z: dict) -> str:
    """Why Theorem 3.1 (Zou, Long & Gu) covers no step of a GD run: its margin, else its step condition."""
    m = _median_of(z.get("thm31_margin"))
    if m is not None and m < 1:
        return f"thm31_margin = {m:.4g} < 1 (the condition on A, B and the data fails)"
    return "its hypotheses (GD from W = 0 on the ResNet, eta_t <= eta_thm31) held at no step"


@_quiet
def plot_resnet_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """``run --model resnet --plot``: Zou, Long & Gu (ICLR 2020, arXiv:2003.01094) along a GD or SGD run.

    (1) L(t) - L* (per seed, median) against, for GD, Theorem 3.1's ``Delta0 prod_{s<t} (1 - rho_s)`` on the
    steps where it applies; for SGD (Algorithm 1), Theorem 3.8's envelope ``2 L0 exp(-t rho)`` (A.19) and
    Theorem 3.6 (iii)'s ``L(t) <= 2 L0`` (drawn as ``2 L0 - L*`` on the gap) where each applies; an omitted
    bound has a legend entry with the reason. (2) ``max_l ||W_l(t)||_F`` against the proof's R_GD(t) and the
    region 0.5/L (GD). (3) eta_t, with Theorem 3.1's eta_thm31 for GD. Log axes.
    """
    import numpy as np

    a = result.arrays
    s = result.summary()
    z, viol = s.get("zou_long_gu") or {}, s.get("violations") or {}
    total = _total(result)
    sgd = bool(z.get("sgd"))
    fig, (ax_l, ax_w, ax_s) = _figure(3, 9.5)
    gap = _as2d(a["loss"])
    obs = [_observed(ax_l, gap, "C0", r"$L(t) - L^*$")]
    bounds = []
    if not sgd:
        app = _bool2d(a["thm31_applies"])
        bounds.append(_bound(ax_l, a["pred_thm31"], "Thm 3.1 bound", r"Thm 3.1: $\Delta_0\prod_{s<t}(1 - \rho_s)$",
                             viol.get("thm31_not_applicable") or _thm31_why(z), total,
                             covered=_cover(app), n_steps=app.sum(), color="C3", ls="--"))
    else:
        _omitted(ax_l, "Thm 3.1 bound omitted: " + (viol.get("thm31_not_applicable") or "a GD theorem; this is SGD"))
        lstar = np.asarray(z.get("lstar") or [0.0] * gap.shape[0], dtype=float)[:, None]
        app = _bool2d(a["thm38_applies"])
        bounds.append(_bound(ax_l, _as2d(a["envelope_thm38"]) - lstar, "Thm 3.8 envelope",
                             r"Thm 3.8 (A.19): $2L_0 e^{-t\rho}$", viol.get("thm38_not_applicable") or
                             "needs L* = 0, thm38_margin >= 1, a constant eta <= eta_thm38", total,
                             covered=_cover(app), n_steps=app.sum(), color="C3", ls="--"))
        app = _bool2d(a["thm36_iii_applies"])
        level = np.broadcast_to(2 * (gap[:, :1] + lstar) - lstar, gap.shape)
        bounds.append(_bound(ax_l, level, "Thm 3.6 (iii) bound", r"Thm 3.6 (iii): $L(t) \leq 2L_0$, as $2L_0 - L^*$",
                             viol.get("thm36_iii_not_applicable") or "needs thm36_margin >= 1, eta <= eta_thm36, "
                             "and holds only before an eps'-optimal iterate", total,
                             covered=_cover(app), n_steps=app.sum(), color="C2", ls=":"))
    _finish_log_axis(ax_l, obs, bounds, ylabel="excess loss")
    ax_l.set_title(title or f"convtool run --model resnet: {result.schedule.get('name')}", fontsize=10)

    w = [_observed(ax_w, a["w_max"], "C0", r"$\max_l \|W_l(t)\|_F$")]
    wb = []
    if "R_GD_t" in a:
        app = _bool2d(a["traj_applies"])
        wb.append(_bound(ax_w, _states(a["R_GD_t"]), "R_GD(t)", r"$R_{GD}(t)$ (proof of Thm 3.1, Part (i))",
                         viol.get("traj_not_applicable") or "needs Theorem 3.1's hypotheses and a constant step",
                         total, covered=_cover(app, first=False), n_steps=app.sum(), color="C3", ls="--"))
    region = _median_of(z.get("region"))
    app = _bool2d(a["region_applies"]) if "region_applies" in a else np.zeros((1, 0), bool)
    if region is not None:
        wb.append(_bound(ax_w, np.full(_as2d(a["w_max"]).shape, region), "region 0.5/L", r"region $0.5/L$",
                         viol.get("region_not_applicable") or "needs Theorem 3.1's hypotheses", total,
                         covered=_cover(app), n_steps=app.sum(), color="0.4", ls=(0, (1, 1))))
    _finish_log_axis(ax_w, w, wb, ylabel="hidden weights")
    eta31 = None if sgd else _median_of(z.get("eta_thm31"))
    _step_panel(ax_s, [(a["eta"], "C0", r"$\eta_t$", "-")],
                refs=[(eta31, r"$\eta_{thm31}$ (Theorem 3.1's step, median over seeds)", dict(color="C3", ls=":"))])
    _save(fig, path, dpi)
    return fig


# ------------------------------------------------------------------ feed-forward net (Du, Hu & Lee)

#: labels of the balancedness invariants by kind (their first letter)
_INV_LABEL = {"B": r"$|B_H(t) - B_H(0)|$ (Cor. 2.1)", "b": r"$\max_i |b_{H,i}(t) - b_{H,i}(0)|$ (Thm 2.1)",
              "D": r"$\|D_H(t) - D_H(0)\|_F$ (Thm 2.2)"}


@_quiet
def plot_mlp_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """``run --model mlp --plot``: Du, Hu & Lee (NeurIPS 2018, arXiv:1806.00900) along a GD run.

    (1) L(t) (per seed, median): no convergence bound is drawn (the paper proves the layers' balancedness for
    this model, not a rate; the legend says so). (2) the drift of every recorded invariant against the two
    bounds the checks use, ``sum_{s<t} eta_s^2 ||grad L(s)||^2`` and, while the descent inequality held,
    ``2 max_s eta_s (L(0) - L(t))``, each drawn only where its check applies; an invariant that is not recorded
    has a legend entry with the reason. (3) eta_t. Log axes.
    """
    import numpy as np

    a = result.arrays
    s = result.summary()
    bal = s.get("balancedness") or {}
    total = _total(result)
    fig, (ax_l, ax_b, ax_s) = _figure(3, 9.5)
    obs = [_observed(ax_l, a["loss"], "C0", r"$L(t) = \frac{1}{2}\|F(t) - Y\|_F^2$")]
    _omitted(ax_l, "no convergence bound drawn: Du, Hu & Lee prove the layers' balancedness for this model, "
                   "not a rate of L(t)")
    _finish_log_axis(ax_l, obs, ylabel="loss")
    ax_l.set_title(title or f"convtool run --model mlp: {result.schedule.get('name')}", fontsize=10)

    drifts, cum_cov, desc_cov = [], None, None
    styles = iter(zip(LINE_STYLES * 4, MARKERS * 4))
    for i, row in enumerate(bal.get("rows", [])):
        k = row["invariant"]
        if row.get("not_applicable") or f"bal_{k}_drift" not in a:
            _omitted(ax_b, f"{k} not recorded: {row.get('not_applicable') or 'no record'}")
            continue
        ls, mk = next(styles)
        drifts.append(_observed(ax_b, np.abs(_as2d(a[f"bal_{k}_drift"])), f"C{i % 10}",
                                _INV_LABEL.get(k[0], k).replace("H", k[1:]), ls=ls, marker=mk))
        for key, acc in (("cum", "cum_cov"), ("descent", "desc_cov")):
            c = _cover(a[f"balanced_{k}_{key}_applies"], first=False)
            if acc == "cum_cov":
                cum_cov = c if cum_cov is None else cum_cov | c
            else:
                desc_cov = c if desc_cov is None else desc_cov | c
    bounds = []
    n_cum = int(cum_cov[:, 1:].sum()) if cum_cov is not None else 0  # (seed, step) pairs, as ``total`` counts
    n_desc = int(desc_cov[:, 1:].sum()) if desc_cov is not None else 0
    if "bal_cum_bound" in a:
        bounds.append(_bound(ax_b, a["bal_cum_bound"], "cumulative bound", r"$\sum_{s<t}\eta_s^2\|\nabla L(s)\|^2$",
                             "no invariant recorded", total if total else 1, covered=cum_cov,
                             n_steps=n_cum, color="k", ls="--"))
    if "bal_descent_bound" in a:
        bounds.append(_bound(ax_b, _states(a["bal_descent_bound"]), "descent bound",
                             r"$2\max_s\eta_s\,(L(0) - L(t))$ while descent held",
                             "the descent inequality L(s+1) <= L(s) - eta_s ||grad L(s)||^2 / 2 failed at step 0",
                             total if total else 1, covered=desc_cov,
                             n_steps=n_desc, color="0.4", ls=":"))
    _finish_log_axis(ax_b, drifts, bounds, ylabel="invariant drift")
    _step_panel(ax_s, [(a["eta"], "C0", r"$\eta_t$", "-")])
    _save(fig, path, dpi)
    return fig


# ------------------------------------------------------------------ shallow network (Song et al.)

@_quiet
def plot_shallow_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """``run --model shallow --plot``: Song et al. (NeurIPS 2021, arXiv:2111.01875) along a GD run.

    (1) h(t) = ||F(t) - Y||_F^2 (per seed, median) against Theorem 2's ``rate^t h0`` ((14), derived C = 1/4)
    on the steps where its hypotheses hold; (2) ``||Theta_t - Theta_0||`` against rho_Phi and the path length
    against the bound (33), each where it applies; (3) eta_t with eta_explicit. An omitted bound has a legend
    entry with the reason. Log axes.
    """
    import numpy as np

    a = result.arrays
    s = result.summary()
    viol = s.get("violations") or {}
    total = _total(result)
    why = s.get("theorem_not_applicable") or viol.get("thm2_rate_not_applicable") or \
        "Theorem 2's hypotheses (chi_obs <= chi_max so far) held at no step"
    fig, (ax_l, ax_d, ax_s) = _figure(3, 9.5)
    obs = [_observed(ax_l, a["loss"], "C0", r"$h(t) = \|F(t) - Y\|_F^2$")]
    app = _bool2d(a["thm2_rate_applies"])
    b = _bound(ax_l, a["envelope"], "Thm 2 bound", r"Thm 2 (14): $\mathrm{rate}^t\,h_0$", why, total,
               covered=_cover(app), n_steps=app.sum(), color="C3", ls="--")
    _finish_log_axis(ax_l, obs, [b], ylabel="loss")
    ax_l.set_title(title or "convtool run --model shallow", fontsize=10)

    shape = _as2d(a["dist0"]).shape
    d = [_observed(ax_d, a["dist0"], "C0", r"$\|\Theta_t - \Theta_0\|$"),
         _observed(ax_d, a["path"], "C1", r"path $\sum_{s<t}\eta_s\|\nabla h(\Theta_s)\|$", ls="--")]
    db = []
    for key, name, label, vals, color, ls in (
            ("ball", "ball radius", r"$\rho_\Phi$ (Theorem 2's ball)", s.get("rho_Phi"), "C0", ":"),
            ("path", "path bound", r"path bound (33) (derived constants)", s.get("path_bound_gd"), "C1", "-.")):
        app = _bool2d(a[f"{key}_applies"])
        v = np.array([np.nan if x is None else float(x) for x in np.atleast_1d(vals if vals is not None else [None])])
        level = np.broadcast_to(v[:, None] if v.size == shape[0] else np.full((shape[0], 1), np.nan), shape)
        db.append(_bound(ax_d, level, name, label, why, total, covered=_cover(app), n_steps=app.sum(), color=color,
                         ls=ls))
    _finish_log_axis(ax_d, d, db, ylabel="distance")
    _step_panel(ax_s, [(a["eta"], "C0", r"$\eta_t$", "-")],
                refs=[(_median_of(s.get("eta_explicit")), r"$\eta_{explicit}$ (Theorem 2)", dict(color="C3", ls=":"))])
    _save(fig, path, dpi)
    return fig
