"""``convtool explain`` with values for Zhao & Xu's quantities (the deep-linear model's initialization)."""

from __future__ import annotations

import numpy as np
import pytest
from clihelpers import assert_user_error, ok, strict_json

from convtool.cli.render import fmt

WIDTHS = ("--widths", "12")


@pytest.fixture(scope="module")
def dl_npz(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("dln") / "dl.npz"
    np.savez(path, X=rng.normal(size=(30, 4)), Y=rng.normal(size=(30, 2)))
    return str(path)


@pytest.fixture(scope="module")
def constants_json(dl_npz):
    from click.testing import CliRunner

    from convtool.cli.main import cli
    from conftest import CLI_ENV

    r = CliRunner().invoke(cli, ["constants", "--model", "deep-linear", dl_npz, *WIDTHS, "--json"], env=CLI_ENV)
    assert r.exit_code == 0, r.stderr
    return strict_json(r.stdout)


def _nodes(node):
    yield node
    for c in node["inputs"]:
        yield from _nodes(c)


@pytest.mark.parametrize("name", ["zhao-xu:q", "zhao-xu:width_C3"])
def test_values_along_tree_equal_constants(invoke, dl_npz, constants_json, name):
    j = strict_json(ok(invoke("explain", name, dl_npz, *WIDTHS, "--json")).stdout)
    assert j["paper"] == "zhao-xu" and j["model"] == "deep-linear" and j["source"] == constants_json["source"]
    assert j["widths"] == constants_json["widths"]
    nodes = list(_nodes(j["tree"]))
    assert j["value"] == j["tree"]["value"] == constants_json[name.split(":")[1]]
    primitives = set()
    for n in nodes:
        assert n["varies_with"] is None
        if n["kind"] == "primitive":
            primitives.add(n["name"])
        if n["name"] in constants_json:
            assert n["value"] == constants_json[n["name"]], n["name"]
            assert isinstance(n["value"], float)
    # primitives measured at the initialization and a user parameter are shown with their values
    assert {"lambda_max", "lambda_min_pos", "loss_scale"} <= primitives
    if name.endswith("width_C3"):
        assert {"delta", "Wstar_X_sq", "n_N"} <= primitives
    else:
        assert {"eta", "N", "n_N"} <= primitives
    # the text output shows the same values along the tree
    out = ok(invoke("explain", name, dl_npz, *WIDTHS)).stdout
    assert "depends on (values at the instance):" in out and "model: deep-linear" in out
    for n in nodes:
        assert f"{n['name']} = {fmt(n['value'])}" in out


def test_user_parameters_are_shown(invoke, dl_npz):
    j = strict_json(ok(invoke("explain", "zhao-xu:width_thm4", dl_npz, *WIDTHS, "--c", "0.2", "--delta", "0.05",
                              "--C", "3", "--json")).stdout)
    vals = {n["name"]: n["value"] for n in _nodes(j["tree"])}
    assert vals["c"] == 0.2 and vals["delta"] == 0.05 and vals["C"] == 3.0


def test_per_step_quantity_has_no_value_at_init(invoke, dl_npz):
    j = strict_json(ok(invoke("explain", "zhao-xu:D_R", dl_npz, *WIDTHS, "--json")).stdout)
    assert j["value"] is None and "no value at the initialization" in j["not_applicable"]
    nodes = {n["name"]: n for n in _nodes(j["tree"])}
    for per_step in ("tau", "t"):
        assert nodes[per_step]["value"] is None
        assert "per-step input" in nodes[per_step]["not_applicable"]
    assert isinstance(nodes["q"]["value"], float) and nodes["q"]["not_applicable"] is None
    out = ok(invoke("explain", "zhao-xu:D_R", dl_npz, *WIDTHS)).stdout
    assert "D_R = n/a (depends on the per-step input(s) tau, t: no value at the" in out
    assert "nan" not in out.lower().split()


def test_not_applicable_reason_in_words(invoke, dl_npz):
    """Depth 2: M_hat is not applicable, with its reason (not NaN); JSON stays strict."""
    r = ok(invoke("explain", "zhao-xu:width_claim2", dl_npz, "--depth", "2", *WIDTHS, "--json"))
    nodes = {n["name"]: n for n in _nodes(strict_json(r.stdout)["tree"])}
    assert nodes["M_hat"]["value"] is None and "depth N = 2" in nodes["M_hat"]["not_applicable"]
    assert nodes["M_L3"]["value"] == 1.0
    out = ok(invoke("explain", "zhao-xu:width_claim2", dl_npz, "--depth", "2", *WIDTHS)).stdout
    assert "M_hat = n/a (depth N = 2" in out


def test_layers_from_file_and_model_flag(invoke, tmp_path, constants_json, dl_npz):
    from convtool.numeric.deep_linear import init_layers

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    layers = [W[0] for W in init_layers((4, 12, 12, 2), "gaussian", seed=0)]
    path = tmp_path / "dlw.npz"
    np.savez(path, X=X, Y=Y, **{f"W{j + 1}": W for j, W in enumerate(layers)})
    j = strict_json(ok(invoke("explain", "q", "--paper", "zhao-xu", str(path), "--model", "deep-linear",
                              "--json")).stdout)
    assert j["init"] == "file" and j["value"] == constants_json["q"]


@pytest.mark.parametrize("args,fragments", [
    (("zhao-xu:q", "{data}", "--model", "two-layer"), ("--model two-layer", "--model deep-linear")),
    (("zhao-xu:q", "{data}", "--width", "5"), ("--width", "two-layer")),
    (("zhao-xu:q", "{data}", "--eta0", "0.1"), ("--eta0", "two-layer")),
    (("zhao-xu:q", "{data}", "--init", "xavier"), ("--init xavier", "deep-linear initialization")),
    (("zhao-xu:q", "{data}", "--eps", "2"), ("--eps",)),
    (("zhao-xu:q", "{data}", "--widths", "1,2,3"), ("--widths",)),
    (("zhao-xu:q", "--depth", "3"), ("--depth", "give DATA or --default")),
    (("zhao-xu:q", "--model", "deep-linear"), ("--model", "give DATA or --default")),
    (("zhao-xu:q", "{data}", "--default"), ("either DATA or --default",)),
    (("alpha1", "{data}", "--model", "deep-linear"), ("--model deep-linear", "local-pl:alpha1")),
    (("alpha1", "--default", "--delta", "0.2"), ("--delta", "deep-linear")),
], ids=["two-layer-model", "width", "eta0", "init", "eps", "widths", "no-values", "model-no-values",
        "data-and-default", "local-pl-deep-linear", "local-pl-dln-option"])
def test_bad_combinations_are_one_line(invoke, dl_npz, args, fragments):
    assert_user_error(invoke("explain", *(dl_npz if a == "{data}" else a for a in args)), *fragments)
