"""Issue 12 for the deep-linear and plugin models: plots that draw each bound only where it applies, and
``convtool show`` re-rendering their saved runs.

Plots are inspected through their artists: a bound's line holds NaN on every state its check does not cover
and the recorded bound (or a chain recomputed here from the paper's statement) where it does; an omitted bound
has a legend entry with the reason; files are checked by their magic bytes. ``show`` round trips compare the
printed lines at 80 columns and the --json summary with the run that wrote the file. Small instances.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from clihelpers import assert_user_error, ok, strict_json
from convtool.cli.main import cli

pytest.importorskip("matplotlib")

PNG, PDF, SVG = b"\x89PNG\r\n\x1a\n", b"%PDF", b"<?xml"


def invoke(*args, cols="80"):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": cols, "NO_COLOR": "1"})


def labels(ax):
    return [ln.get_label() for ln in ax.get_lines()]


def line(ax, prefix):
    found = [ln for ln in ax.get_lines() if ln.get_label().startswith(prefix)]
    assert len(found) == 1, (prefix, labels(ax))
    return found[0]


def omitted(ax, prefix):
    """The text of the legend entry (a line with no data) starting with ``prefix``."""
    found = [ln.get_label() for ln in ax.get_lines() if ln.get_label().startswith(prefix) and not len(ln.get_xdata())]
    assert len(found) == 1, (prefix, labels(ax))
    return " ".join(found[0].split())


def cover(app):
    """States covered by a per-step check (state t+1 where step t applies; state 0 where step 0 does)."""
    c = np.zeros((app.shape[0], app.shape[1] + 1), dtype=bool)
    c[:, 1:] = app
    c[:, 0] = app[:, 0]
    return c


def test_a_far_bound_does_not_squash_the_observed_curves_and_says_it_leaves_the_axis():
    from convtool.cli.plots import _bound, _figure, _finish_log_axis, _observed

    fig, (ax,) = _figure(1, 3.0)
    obs = _observed(ax, np.array([[1.0, 0.1, 0.01]]), "C0", "$L$")
    b = _bound(ax, np.array([[1.0, 1e9, 1e12]]), "B", "$B$", "never", 2, n_steps=2)
    _finish_log_axis(ax, [obs], [b])
    lo, hi = ax.get_ylim()
    assert lo <= 0.01 / 2 and 1.0 * 1e4 <= hi <= 1.0 * 1e4 * 3 * 1.0001  # at most 1e4 above the observed range
    assert line(ax, "$B$").get_label().endswith("; leaves the axis")


# ------------------------------------------------------------------ deep linear network

@pytest.fixture(scope="module")
def dln_data():
    """Nearly orthogonal columns (kappa = 1.3^2): q is small, so q + 7 tau < 1 at moderate width."""
    rng = np.random.default_rng(3)
    X = np.linalg.qr(rng.normal(size=(30, 4)))[0] * np.array([3.0, 3.15, 3.3, 3.45])
    return X, X @ rng.normal(size=(4, 2)) + 0.1 * rng.normal(size=(30, 2))


@pytest.fixture(scope="module")
def dln_run(dln_data):
    """Width 60, two seeds, Theorem 1's step with C = 1e-6 (its width condition then holds): Theorem 1 and
    eq. (10) apply at every step, Lemma 5 and Theorem 2 on some seed-steps only (while q + 7 tau < 1)."""
    from convtool.numeric.deep_linear import init_layers
    from convtool.numeric.dln_experiments import run_deep_linear

    X, Y = dln_data
    layers = init_layers((4, 60, 60, 2), "gaussian", seed=0, R=2)
    return run_deep_linear(X, Y, layers, schedule="thm1", steps=10, init="gaussian", C=1e-6, saddle_every=100)


class Masked:
    """A run with some records replaced (to pin which steps a check applies on)."""

    def __init__(self, res, **arrays):
        self.arrays = {**res.arrays, **arrays}
        self.steps, self.status, self.schedule, self.config = res.steps, res.status, res.schedule, res.config
        self._s = res.summary()
        self.R = res.R

    def summary(self):
        return self._s


def test_deep_linear_plot_draws_theorem_1_where_it_applies_and_chains_its_rate(dln_run, tmp_path):
    from convtool.cli.plots import plot_deep_linear_run

    res = dln_run
    v = res.violations()
    assert v["thm1_steps_applicable"] == int(np.sum(res.steps))  # every step here
    r1 = res.summary()["zhao_xu"]["rate_thm1"]
    E = res.arrays["loss"]
    fig = plot_deep_linear_run(res, tmp_path / "d.svg")
    assert (tmp_path / "d.svg").read_bytes().startswith(SVG)
    ax = fig.axes[0]
    assert all(a.get_yscale() == "log" for a in fig.axes) and len(fig.axes) == 5
    y = line(ax, "Thm 1:").get_ydata()
    T = int(res.steps.min())
    expect = np.median(E[:, :1] * r1 ** np.arange(T + 1)[None, :], axis=0)  # E(0) (1 - (1 - eps)/kappa)^t
    np.testing.assert_allclose(y[: T + 1], expect, rtol=1e-12)
    # Theorem 1 covers only steps 0..3 and 6..8: the chain restarts at 6 from the observed E(6); NaN elsewhere
    app = np.zeros_like(res.arrays["thm1_applies"])
    app[:, [0, 1, 2, 3, 6, 7, 8]] = True
    fig = plot_deep_linear_run(Masked(res, thm1_applies=app), None)
    y = line(fig.axes[0], "Thm 1:").get_ydata()
    chain = np.full(E.shape, np.nan)
    for a, b in ((0, 4), (6, 9)):
        chain[:, a:b + 1] = E[:, a:a + 1] * r1 ** np.arange(b - a + 1)[None, :]
    np.testing.assert_allclose(y, np.median(chain, axis=0), rtol=1e-12)
    assert np.isnan(y[[5, 10]]).all()
    assert "not drawn on the other 6 steps: eta_* differs from 1/beta there" in omitted(fig.axes[0], "Thm 1 bound not")
    assert "on 14 of 20 steps, 2 seeds together" in line(fig.axes[0], "Thm 1:").get_label()
    # no step: no line under Theorem 1's label, an entry with the reason
    fig = plot_deep_linear_run(Masked(res, thm1_applies=np.zeros_like(app)), None)
    assert not any(lab.startswith("Thm 1:") for lab in labels(fig.axes[0]))
    assert "Thm 1 bound omitted: eta_* = 1/beta" in omitted(fig.axes[0], "Thm 1 bound omitted")


def test_deep_linear_plot_draws_lemma_5_and_theorem_2_only_on_covered_states(dln_run, tmp_path):
    from convtool.cli.plots import plot_deep_linear_run

    res = dln_run
    a = res.arrays
    app5, app2 = a["lemma5_applies"], a["thm2_applies"]
    assert 0 < app5.sum() < app5.size  # partly covered: the case to test
    fig = plot_deep_linear_run(res, None)
    ax2, ax5 = fig.axes[1], fig.axes[2]
    y5 = line(ax5, "Lemma 5:").get_ydata()
    b5 = np.full(a["dln_X_sq"].shape, np.nan)
    b5[:, 1:] = a["lemma5_bound"]
    b5[:, 0] = a["dln_X_sq"][:, 0]
    cov = cover(app5)
    for t in range(b5.shape[1]):
        vals = b5[cov[:, t], t]
        if vals.size:
            assert y5[t] == pytest.approx(np.median(vals), rel=1e-12)
            # Lemma 5 holds there: each covered seed's ||V(t) - W*||_X^2 is below its bound
            assert np.all(a["dln_X_sq"][cov[:, t], t] <= vals * (1 + 1e-9))
        else:
            assert np.isnan(y5[t])
    y2 = line(ax2, "Thm 2:").get_ydata()
    cov2 = np.zeros_like(cov)
    cov2[:, 1:] = app2
    assert np.isnan(y2[0]) and np.array_equal(np.isfinite(y2), cov2.any(axis=0))
    n = int(np.sum(res.steps))
    assert f"not drawn on the other {n - int(app2.sum())} steps" in omitted(ax2, "Thm 2 bound not drawn")
    # eq. (10)'s chain on ||W(t) - W*||_X^2 (convex GD) where eta_* < 2/beta: here every step
    yq = line(ax5, "eq. (10):").get_ydata()
    q = a["q"]
    T = int(res.steps.min())
    chain = a["cvx_X_sq"][:, :1] * np.concatenate([np.ones((2, 1)), np.cumprod(q, axis=1)], axis=1)
    np.testing.assert_allclose(yq[: T + 1], np.median(chain, axis=0)[: T + 1], rtol=1e-12)
    # distinct styles for the observed curves, per-seed lines, mathtext labels, a step-size panel with 1/beta
    assert len({ln.get_linestyle() for ln in fig.axes[0].get_lines() if "median" in ln.get_label()}) == 2
    assert sum(lab.startswith("_") for lab in labels(fig.axes[0])) >= 4
    assert all("$" in lab for lab in labels(fig.axes[0]) if not lab.startswith(("_", "Thm 1 bound")))
    beta = res.summary()["zhao_xu"]["beta"]
    ref = line(fig.axes[3], "$1/\\beta$")
    assert ref.get_ydata()[0] == pytest.approx(1 / beta, rel=1e-12)


def test_width_compare_plot_is_appendix_g_figure_1_by_width(dln_data, tmp_path):
    from convtool.cli.plots import plot_width_compare
    from convtool.numeric.dln_experiments import compare_widths

    X, Y = dln_data
    cmp = compare_widths(X, Y, [10, 30], seeds=2, steps=6, saddle_every=100)
    fig = plot_width_compare(cmp, tmp_path / "w.pdf", dpi=40)
    assert (tmp_path / "w.pdf").read_bytes().startswith(PDF)
    ax_e, ax_d, ax_s = fig.axes
    dln = {w: line(ax_e, f"width {w}: $E_{{DLN}}(t)$") for w in (10, 30)}
    cvx = {w: line(ax_e, f"width {w}: $E(t)$") for w in (10, 30)}
    assert len({(ln.get_color(), ln.get_marker()) for ln in dln.values()}) == 2  # widths told apart
    assert all(dln[w].get_linestyle() != cvx[w].get_linestyle() for w in dln)  # DLN against convex
    for w, res in cmp.runs.items():
        med = np.median(res.arrays["loss"], axis=0)
        np.testing.assert_allclose(dln[w].get_ydata()[: med.size], med, rtol=1e-12)
    assert sum(lab.startswith("_") for lab in labels(ax_e)) == 2 * 2 * 2  # thin per-seed lines: no averaging
    # Theorem 2 is vacuous at both widths here: one entry naming both, no line under its label
    assert not any(lab.startswith("width") and "Thm 2, " in lab for lab in labels(ax_d))
    assert "Thm 2 bound omitted at widths 10, 30: q + 7 tau >= 1" in omitted(ax_d, "Thm 2 bound omitted")
    assert ax_e.get_yscale() == ax_d.get_yscale() == ax_s.get_yscale() == "log"
    # compare --out's file gives the same figure again (convtool show)
    from convtool.cli.cmd_compare import save_width_compare
    from convtool.cli.cmd_show import load_saved, saved_width_compare

    save_width_compare(cmp, str(tmp_path / "w.npz"), {}, X, Y)
    again = plot_width_compare(saved_width_compare("w.npz", *load_saved(str(tmp_path / "w.npz"))), None)
    for ax0, ax1 in zip(fig.axes, again.axes):
        assert labels(ax0) == labels(ax1)
        for l0, l1 in zip(ax0.get_lines(), ax1.get_lines()):
            np.testing.assert_array_equal(l0.get_ydata(), l1.get_ydata())


# ------------------------------------------------------------------ linear ResNet

def test_resnet_plot_gd_draws_theorem_31_and_sgd_draws_theorem_38(tmp_path):
    from test_resnet_runs import interp_instance, remark32_instance

    from convtool.cli.plots import plot_resnet_run
    from convtool.numeric.resnet_experiments import run_resnet, run_sgd_batch

    X, Y, A, B, L = remark32_instance()
    res = run_resnet(X, Y, A, B, depth=L, schedule="thm31", steps=15, tol=1e-12)
    assert res.violations()["thm31_steps_applicable"] == int(res.steps[0])
    fig = plot_resnet_run(res, None)
    ax = fig.axes[0]
    y = line(ax, "Thm 3.1:").get_ydata()
    gap = res.arrays["loss"][0]
    np.testing.assert_allclose(y, res.arrays["pred_thm31"][0], rtol=1e-12)
    assert np.all(gap <= y * (1 + 1e-9))  # the theorem, read off the figure
    assert not any("Thm 3.8" in lab for lab in labels(ax))  # an SGD bound is not offered for GD
    z = res.summary()["zou_long_gu"]
    assert line(fig.axes[2], "$\\eta_{thm31}$").get_ydata()[0] == pytest.approx(z["eta_thm31"][0], rel=1e-12)
    assert line(fig.axes[1], "region").get_ydata()[0] == pytest.approx(z["region"][0], rel=1e-12)

    X, Y, A, B = interp_instance()
    sgd = run_sgd_batch(X, Y, A, B, depth=2, seeds=3, batch=4, schedule="thm38", steps=10, delta=0.1)
    fig = plot_resnet_run(sgd, None)
    ax = fig.axes[0]
    assert "Thm 3.1 bound omitted" in omitted(ax, "Thm 3.1 bound omitted")
    y = line(ax, "Thm 3.8").get_ydata()
    np.testing.assert_allclose(y, np.median(sgd.arrays["envelope_thm38"], axis=0), rtol=1e-12)
    assert "Thm 3.1 bound omitted" in omitted(fig.axes[0], "Thm 3.1")


def small_rows(tmp_path, n=20, d=3, k=2) -> str:
    """A small X, Y file (samples as rows) for the plugin models' CLI runs."""
    rng = np.random.default_rng(5)
    path = tmp_path / f"rows{n}x{d}x{k}.npz"
    np.savez(path, X=rng.normal(size=(n, d)), Y=rng.normal(size=(n, k)))
    return str(path)


def test_resnet_mlp_shallow_cli_plots_follow_extension_and_dpi(tmp_path):
    def width(p):
        return int.from_bytes(p.read_bytes()[16:20], "big")

    data = small_rows(tmp_path)
    ok(invoke("run", data, "--model", "resnet", "--depth", "2", "--steps", "3", "--plot", tmp_path / "a.png",
              "--dpi", "20"))
    assert width(tmp_path / "a.png") == 7.5 * 20  # the figure is 7.5 inches wide: --dpi reached the plugin
    ok(invoke("run", data, "--model", "mlp", "--steps", "4", "--eta", "0.001", "--widths", "10",
              "--plot", tmp_path / "m.svg"))
    assert (tmp_path / "m.svg").read_bytes().startswith(SVG)
    ok(invoke("run", small_rows(tmp_path, 10, 3, 1), "--model", "shallow", "--width", "30", "--steps", "4",
              "--plot", tmp_path / "s.pdf"))
    assert (tmp_path / "s.pdf").read_bytes().startswith(PDF)
    assert_user_error(invoke("run", data, "--model", "mlp", "--steps", "4", "--plot", tmp_path / "m.jpg"),
                      "unknown plot format")


def test_mlp_and_shallow_plots_say_what_they_do_not_draw(tmp_path):
    from convtool.cli.plots import plot_mlp_run, plot_shallow_run
    from convtool.numeric.mlp import init_mlp_layers, run_mlp

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    res = run_mlp(X, Y, init_mlp_layers([3, 8, 8, 2], None, seed=0, R=2), activation="relu", schedule="constant",
                  eta=1e-3, steps=8, record_neurons=True)
    fig = plot_mlp_run(res, None)
    assert "Du, Hu & Lee prove the layers' balancedness" in omitted(fig.axes[0], "no convergence bound")
    ax = fig.axes[1]
    assert "not linear" in omitted(ax, "D1 not recorded")  # ReLU: Theorem 2.2's D_h does not apply
    d = line(ax, "$|B_1(t) - B_1(0)|$").get_ydata()
    cum = line(ax, "$\\sum_{s<t}").get_ydata()
    ok_ = np.isfinite(d) & np.isfinite(cum)
    assert ok_.sum() >= 5 and np.all(d[ok_] <= cum[ok_] * (1 + 1e-9) + 1e-15)  # Du, Hu & Lee's drift bound
    assert np.isnan(cum[0])  # state 0 is not a covered state (the drift is 0 there by definition)

    from convtool.analysis.activations import builtin
    from convtool.numeric.shallow import init_layers, run_shallow

    Xs, Ys = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    W, V = init_layers(3, 30, 1, 1.0, 0.1, seed=0)
    sh = run_shallow(Xs, Ys, W, V, builtin("gelu"), steps=5)
    fig = plot_shallow_run(sh, None)
    why = sh.summary()["theorem_not_applicable"]
    assert why and why in omitted(fig.axes[0], "Thm 2 bound omitted")
    assert not any(lab.startswith("Thm 2 (14)") for lab in labels(fig.axes[0]))


# ------------------------------------------------------------------ convtool show for every model

#: (DATA shape n, d, k or None for Zhao & Xu's generator, the run's options)
SHOW_CASES = {
    "deep-linear": (None, ("--model", "deep-linear", "--widths", "12", "--steps", "6")),
    "resnet": ((20, 3, 2), ("--model", "resnet", "--depth", "2", "--steps", "6")),
    "mlp": ((20, 3, 2), ("--model", "mlp", "--steps", "5", "--eta", "0.001", "--widths", "10")),
    "shallow": ((10, 3, 1), ("--model", "shallow", "--steps", "5", "--width", "30")),
    # several seeds: the file keeps the seed axis (SGD, Algorithm 1)
    "resnet-sgd": ((20, 3, 2), ("--model", "resnet", "--depth", "2", "--steps", "5", "--batch", "5", "--seeds", "2")),
}


def _zx(tmp_path):
    path = tmp_path / "zx.npz"
    ok(invoke("generate", "zhao-xu", "--d", "5", "--M", "30", "--k", "2", "-o", path))
    return path


def run_args(model, tmp_path):
    shape, opts = SHOW_CASES[model]
    return ("run", _zx(tmp_path) if shape is None else small_rows(tmp_path, *shape), *opts)


@pytest.mark.parametrize("model", list(SHOW_CASES))
def test_show_re_renders_a_saved_run_of_every_model(model, tmp_path):
    args = run_args(model, tmp_path)
    out = tmp_path / "r.npz"
    js = strict_json(ok(invoke(*args, "--out", out, "--json")).stdout)
    meta = strict_json(ok(invoke("show", out, "--json")).stdout)
    assert meta["summary"] == js["summary"]  # every number of the run, as it printed them
    assert {k: v for k, v in meta["config"].items() if k not in ("provenance", "saved")} == js["config"]
    assert meta["config"]["saved"]["model"] == model.split("-sgd")[0]
    assert meta["config"]["provenance"]["command"].startswith("convtool run")
    printed = ok(invoke(*args, "--out", out)).stdout  # the table at 80 columns
    shown = ok(invoke("show", out, "--plot", tmp_path / "again.png", "--dpi", "20")).stdout
    assert shown.splitlines()[0].startswith("saved by: convtool run")
    missing = [ln for ln in printed.splitlines() if ln not in shown.splitlines() and "wall" not in ln]
    assert not missing, missing
    assert "…" not in shown and max(len(ln) for ln in shown.splitlines()) <= 80
    assert (tmp_path / "again.png").read_bytes().startswith(PNG)


def test_show_re_renders_a_deep_linear_width_comparison(tmp_path):
    args = ("compare", _zx(tmp_path), "--model", "deep-linear", "--compare-widths", "8,16", "--steps", "4",
            "--seeds", "2")
    out = tmp_path / "c.npz"
    js = strict_json(ok(invoke(*args, "--out", out, "--json")).stdout)
    assert strict_json(ok(invoke("show", out, "--json")).stdout)["rows"] == js["rows"]
    printed = ok(invoke(*args, "--out", out)).stdout
    shown = ok(invoke("show", out, "--plot", tmp_path / "c.svg")).stdout
    assert all(ln in shown.splitlines() for ln in printed.splitlines())
    assert (tmp_path / "c.svg").read_bytes().startswith(SVG)
    with np.load(out, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "w16__loss"}
    np.savez(tmp_path / "p.npz", **arrays)
    assert_user_error(invoke("show", tmp_path / "p.npz"), "not a complete saved deep-linear width comparison",
                      "w16__loss")


def test_show_plot_draws_the_same_curves_as_the_run(dln_data, tmp_path):
    """One seed: the file drops the seed axis and show puts it back; the figure's data are the run's."""
    from convtool.cli.cmd_run import save_run
    from convtool.cli.cmd_show import _Saved, load_saved
    from convtool.cli.plots import plot_deep_linear_run
    from convtool.numeric.deep_linear import init_layers
    from convtool.numeric.dln_experiments import run_deep_linear

    X, Y = dln_data
    res = run_deep_linear(X, Y, init_layers((4, 12, 12, 2), "gaussian", seed=1), steps=6, init="gaussian")
    save_run(res, tmp_path / "r.npz", {}, source="test", model="deep-linear")
    saved = _Saved(*load_saved(str(tmp_path / "r.npz")))
    assert saved.arrays["loss"].shape == res.arrays["loss"].shape == (1, 7)
    figs = [plot_deep_linear_run(r, None) for r in (res, saved)]
    for ax0, ax1 in zip(figs[0].axes, figs[1].axes):
        assert labels(ax0) == labels(ax1)
        for l0, l1 in zip(ax0.get_lines(), ax1.get_lines()):
            np.testing.assert_array_equal(l0.get_ydata(), l1.get_ydata())


def test_show_reads_files_written_before_the_model_key(tmp_path):
    """A deep-linear file without ``saved.model`` / ``saved.records`` (as written before) still shows; an old
    two-layer file too."""
    for args in (run_args("deep-linear", tmp_path), ("run", "--width", "20", "--steps", "5")):
        out = tmp_path / "old.npz"
        printed = ok(invoke(*args, "--out", out)).stdout
        with np.load(out, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays["metadata"]))
        meta["config"]["saved"] = {k: v for k, v in meta["config"]["saved"].items() if k not in ("model", "records")}
        arrays["metadata"] = np.array(json.dumps(meta))
        np.savez(out, **arrays)
        shown = ok(invoke("show", out)).stdout
        assert all(ln in shown.splitlines() for ln in printed.splitlines() if "wall" not in ln)


def test_show_bad_files_are_one_line_errors(tmp_path):
    out = tmp_path / "r.npz"
    ok(invoke(*run_args("resnet", tmp_path), "--out", out))
    raw = out.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])  # a truncated download
    assert_user_error(invoke("show", cut), str(cut))
    with np.load(out, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    partial = dict(arrays)
    del partial["pred_thm31"]
    np.savez(tmp_path / "p.npz", **partial)
    assert_user_error(invoke("show", tmp_path / "p.npz", "--plot", tmp_path / "p.png"),
                      "not a complete saved resnet run")
    meta = json.loads(str(arrays["metadata"]))
    meta["config"]["saved"]["model"] = "transformer"
    np.savez(tmp_path / "u.npz", **{**arrays, "metadata": np.array(json.dumps(meta))})
    assert_user_error(invoke("show", tmp_path / "u.npz"), "--model transformer", "show --json")
    np.savez(tmp_path / "j.npz", loss=arrays["loss"], metadata=np.array("{not json"))
    assert_user_error(invoke("show", tmp_path / "j.npz"), "not JSON")
    np.savez(tmp_path / "d.npz", X=np.eye(2), Y=np.eye(2))
    assert_user_error(invoke("show", tmp_path / "d.npz"), "no 'metadata'")
    assert zipfile.is_zipfile(out)  # the original is untouched and still shows
    ok(invoke("show", out))
