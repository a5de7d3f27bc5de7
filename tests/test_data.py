"""Tests of convtool.numeric.data: .npz loading/saving, validation, instances."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convtool.errors import InputError
from convtool.numeric.data import (Instance, build_instance, default_instance, load_arrays, load_instance,
                                   save_arrays)
from convtool.numeric.generators import fig1


def one_line_error(fn, match, *args, **kwargs) -> str:
    """Call fn, expect an InputError matching ``match`` with a one-line message; return it."""
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.strip() == msg and msg
    return msg


def squared_arrays(N=6, n=3, m=2, h=4, seed=0, weights=True):
    rng = np.random.default_rng(seed)
    a = {"X": rng.standard_normal((N, n)), "Y": rng.standard_normal((N, m))}
    if weights:
        a["W1"] = rng.standard_normal((n, h))
        a["W2"] = rng.standard_normal((m, h))
    return a


# ---------------------------------------------------------------- save / load


def test_round_trip(tmp_path):
    arrays = squared_arrays()
    arrays["note"] = "made by a test"
    arrays["ints"] = np.arange(5)
    path = tmp_path / "data.npz"
    save_arrays(path, arrays)
    back = load_arrays(path)
    assert set(back) == set(arrays)
    for k in ("X", "Y", "W1", "W2", "ints"):
        assert back[k].dtype == np.float64
        np.testing.assert_array_equal(back[k], arrays[k])
    assert back["note"] == "made by a test" and isinstance(back["note"], str)
    # the file is a plain npz readable without pickles; the string is a 0-d unicode array
    with np.load(path, allow_pickle=False) as z:
        assert z["note"].dtype.kind == "U" and z["note"].ndim == 0


def test_save_writes_exact_path(tmp_path):
    path = tmp_path / "no_suffix"
    save_arrays(path, {"Y": np.eye(2)})
    assert path.exists() and not (tmp_path / "no_suffix.npz").exists()
    np.testing.assert_array_equal(load_arrays(path)["Y"], np.eye(2))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_round_trip_property(tmp_path_factory, arr):
    path = tmp_path_factory.mktemp("rt") / "a.npz"
    save_arrays(path, {"A": arr})
    back = load_arrays(path)["A"]
    assert back.shape == arr.shape and back.dtype == np.float64
    np.testing.assert_array_equal(back, arr)  # NaN == NaN here


def test_load_returns_fresh_copies(tmp_path):
    path = tmp_path / "d.npz"
    save_arrays(path, {"Y": np.eye(3)})
    first = load_arrays(path)
    first["Y"][0, 0] = 42.0
    assert load_arrays(path)["Y"][0, 0] == 1.0


def test_save_does_not_modify_input(tmp_path):
    arrays = {"X": np.arange(6).reshape(2, 3), "Y": np.ones((2, 1), dtype=np.float32)}
    before = {k: v.copy() for k, v in arrays.items()}
    save_arrays(tmp_path / "d.npz", arrays)
    for k in arrays:
        assert arrays[k].dtype == before[k].dtype
        np.testing.assert_array_equal(arrays[k], before[k])


def test_load_missing_file(tmp_path):
    msg = one_line_error(load_arrays, "file not found", tmp_path / "nope.npz")
    assert "nope.npz" in msg


def test_load_directory(tmp_path):
    one_line_error(load_arrays, "is a directory", tmp_path)


def test_load_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    one_line_error(load_arrays, "empty.npz: is empty", path)


def test_load_text_file(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("X,Y\n1,2\n3,4\n")
    one_line_error(load_arrays, "text.npz: not an .npz archive", path)


def test_load_npy_file(tmp_path):
    path = tmp_path / "single.npy"
    np.save(path, np.eye(2))
    one_line_error(load_arrays, "single.npy: is a single .npy array", path)


def test_load_truncated_zip(tmp_path):
    good = tmp_path / "good.npz"
    save_arrays(good, squared_arrays())
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[:60])
    one_line_error(load_arrays, "bad.npz: cannot read", bad)


def test_load_zip_member_not_npy(tmp_path):
    path = tmp_path / "raw.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "hello\nworld")
    one_line_error(load_arrays, "member notes.txt is not a .npy array", path)


def test_load_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, X=np.eye(2), Y=np.array([1.0, "a", None], dtype=object), allow_pickle=True)
    msg = one_line_error(load_arrays, "array Y holds pickled Python objects", path)
    assert "obj.npz" in msg


@pytest.mark.parametrize("value, match", [
    (np.eye(2) + 1j, "array Z is complex"),
    (np.array(["a", "b"]), "array Z has non-numeric dtype <U1"),
    (np.ones(2, dtype=bool), "array Z has non-numeric dtype bool"),
    (np.array([b"ab"]), "array Z has non-numeric dtype"),
], ids=["complex", "string-vector", "bool", "bytes"])
def test_load_non_numeric(tmp_path, value, match):
    path = tmp_path / "bad.npz"
    np.savez(path, Z=value)
    one_line_error(load_arrays, match, path)


def test_save_unwritable_path(tmp_path):
    msg = one_line_error(save_arrays, "cannot write", tmp_path / "missing_dir" / "x.npz", {"Y": np.eye(2)})
    assert "missing_dir" in msg
    one_line_error(save_arrays, "cannot write", tmp_path, {"Y": np.eye(2)})


@pytest.mark.parametrize("value, match", [
    ({"a": 1}, "non-numeric dtype object"),
    (np.array([1, None], dtype=object), "non-numeric dtype object"),
    (np.eye(2) + 1j, "complex"),
], ids=["dict", "object-array", "complex"])
def test_save_refuses_non_numeric(tmp_path, value, match):
    one_line_error(save_arrays, match, tmp_path / "x.npz", {"Z": value})
    assert not (tmp_path / "x.npz").exists()


# ---------------------------------------------------------------- build_instance: success paths


def test_build_with_file_weights():
    a = squared_arrays(N=7, n=3, m=2, h=5)
    inst = build_instance(a, source="mem")
    assert isinstance(inst, Instance)
    assert (inst.n, inst.m, inst.h) == (3, 2, 5)
    assert inst.meta == {"loss": "squared", "N": 7, "n": 3, "m": 2, "h": 5, "init": "file"}
    assert inst.source == "mem"
    np.testing.assert_array_equal(inst.W1, a["W1"])
    # equal width is not a conflict
    assert build_instance(a, width=5).h == 5


def test_build_generated_weights_meta_and_seed():
    a = squared_arrays(weights=False)
    inst = build_instance(a, width=8, init="gaussian", p=0.375, seed=3)
    assert inst.W1.shape == (3, 8) and inst.W2.shape == (2, 8)
    assert inst.W1.dtype == inst.W2.dtype == np.float64
    m = inst.meta
    assert (m["loss"], m["N"], m["n"], m["m"], m["h"]) == ("squared", 6, 3, 2, 8)
    assert (m["init"], m["std"], m["p"], m["seed"]) == ("gaussian", None, 0.375, 3)
    assert m["std_W1"] == m["std_W2"] == pytest.approx(8 ** -0.375)
    again = build_instance(a, width=8, init="gaussian", p=0.375, seed=3)
    np.testing.assert_array_equal(inst.W1, again.W1)
    np.testing.assert_array_equal(inst.W2, again.W2)
    other = build_instance(a, width=8, init="gaussian", p=0.375, seed=4)
    assert not np.array_equal(inst.W1, other.W1)


def test_generated_weights_match_init_weights():
    """Weights generated by build_instance are those of init_weights with the same settings."""
    from convtool.numeric.init import init_weights

    inst = build_instance(squared_arrays(weights=False), width=7, init="xavier", seed=11)
    W1, W2 = init_weights(3, 2, 7, "xavier", seed=11)
    np.testing.assert_array_equal(inst.W1, W1)
    np.testing.assert_array_equal(inst.W2, W2)


def test_build_does_not_modify_or_alias_inputs():
    a = squared_arrays()
    a["X"] = a["X"].astype(np.float32)
    before = {k: v.copy() for k, v in a.items()}
    inst = build_instance(a)
    for k, v in a.items():
        assert v.dtype == before[k].dtype
        np.testing.assert_array_equal(v, before[k])
    assert not np.shares_memory(inst.W1, a["W1"]) and not np.shares_memory(inst.W2, a["W2"])
    inst.W1[...] = 0.0
    inst.loss.X[...] = 0.0
    np.testing.assert_array_equal(a["W1"], before["W1"])
    np.testing.assert_array_equal(a["X"], before["X"])


def test_rank_deficient_X_is_accepted():
    a = squared_arrays(N=6, n=3, m=2, h=4)
    a["X"][:, 2] = a["X"][:, 0]  # rank 2 < n = 3
    inst = build_instance(a)
    assert inst.loss.mu == 0.0
    assert not inst.loss.strongly_convex
    a["X"], a["Y"] = np.zeros((2, 3)), np.ones((2, 2))  # fewer samples than features, and rank 0
    assert build_instance(a).loss.mu == 0.0


def test_build_factorization_and_sensing():
    Y = np.arange(6.0).reshape(2, 3)
    inst = build_instance({"Y": Y}, loss="factorization", width=2, seed=0)
    assert (inst.n, inst.m, inst.h, inst.meta["N"]) == (2, 3, 2, 2)
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((9, 2, 3)), rng.standard_normal(9)
    inst = build_instance({"A": A, "y": y, "W1": np.ones((2, 4)), "W2": np.ones((3, 4))}, loss="sensing")
    assert (inst.n, inst.m, inst.h, inst.meta["N"]) == (2, 3, 4, 9)
    assert inst.meta["loss"] == "sensing"


def test_extra_arrays_and_annotations_are_ignored():
    a = squared_arrays()
    a["note"] = "a string annotation"
    a["extra"] = np.full(3, np.nan)  # not read by the loss, so not validated
    assert build_instance(a).h == 4


def test_load_instance(tmp_path):
    path = tmp_path / "fig1.npz"
    arrays = fig1(n=4, h=9, seed=5)
    save_arrays(path, arrays)
    inst = load_instance(path)
    assert inst.source == str(path)
    np.testing.assert_array_equal(inst.W2, arrays["W2"])
    assert inst.meta["init"] == "file"


def test_default_instance():
    inst = default_instance()
    assert inst.source == "built-in default (Fig. 1, h=500, sigma=1, seed 0)"
    assert (inst.n, inst.m, inst.h) == (10, 10, 500)
    assert inst.meta["loss"] == "squared" and inst.meta["generator"] == "fig1"
    ref = fig1(n=10, h=500, sigma=1.0, seed=0)
    np.testing.assert_array_equal(inst.W1, ref["W1"])
    np.testing.assert_array_equal(inst.loss.Y, ref["Y"])
    assert inst.loss.mu == pytest.approx(1.0) and inst.loss.K == pytest.approx(1.0)  # X orthogonal


# ---------------------------------------------------------------- build_instance: errors


def test_unknown_loss():
    one_line_error(build_instance, "unknown loss 'hinge'; choose one of squared, factorization, sensing",
                   squared_arrays(), loss="hinge")


@pytest.mark.parametrize("loss, arrays, missing", [
    ("squared", {"X": np.eye(2)}, "Y"),
    ("squared", {"Y": np.eye(2)}, "X"),
    ("squared", {}, "X, Y"),
    ("factorization", {"X": np.eye(2)}, "Y"),
    ("sensing", {"A": np.ones((4, 2, 2))}, "y"),
    ("sensing", {"X": np.eye(2), "Y": np.eye(2)}, "A, y"),
])
def test_missing_arrays(loss, arrays, missing):
    msg = one_line_error(build_instance, f"loss '{loss}' needs array\\(s\\) {missing}", arrays, loss=loss,
                         width=4, source="d.npz")
    assert msg.startswith("d.npz: ")


@pytest.mark.parametrize("loss, arrays, match", [
    ("squared", {"X": np.ones(3), "Y": np.ones((3, 1))}, r"array X has shape \(3,\); expected 2-D \(N x n\)"),
    ("squared", {"X": np.ones((3, 2)), "Y": np.ones(3)}, r"array Y has shape \(3,\); expected 2-D \(N x m\)"),
    ("squared", {"X": np.ones((3, 2, 1)), "Y": np.ones((3, 1))}, "array X has shape"),
    ("squared", {"X": np.ones((0, 2)), "Y": np.ones((0, 1))}, "array X is empty"),
    ("factorization", {"Y": np.float64(3.0)}, r"array Y has shape \(\); expected 2-D"),
    ("sensing", {"A": np.ones((4, 2)), "y": np.ones(4)}, r"array A has shape \(4, 2\); expected 3-D \(p x n x m\)"),
    ("sensing", {"A": np.ones((4, 2, 2)), "y": np.ones((4, 1))}, r"array y has shape \(4, 1\); expected 1-D \(p\)"),
])
def test_wrong_ndim(loss, arrays, match):
    one_line_error(build_instance, match, arrays, loss=loss, width=4)


def test_mismatched_rows():
    one_line_error(build_instance, "X is 5 x 3 but Y is 4 x 2; they need the same number of rows N",
                   {"X": np.ones((5, 3)), "Y": np.ones((4, 2))}, width=4)


def test_sensing_length_mismatch():
    one_line_error(build_instance, "A holds 4 measurement matrices but y has 3 entries",
                   {"A": np.ones((4, 2, 2)), "y": np.ones(3)}, loss="sensing", width=2)


def test_non_finite_counts():
    a = squared_arrays()
    a["X"][0, 0] = np.nan
    a["X"][1, 1] = np.nan
    a["X"][2, 2] = np.inf
    one_line_error(build_instance, r"array X has non-finite entries \(2 NaN, 1 inf of 18\)", a)
    a = squared_arrays()
    a["W2"][0, 0] = -np.inf
    one_line_error(build_instance, r"array W2 has non-finite entries \(1 inf of 8\)", a)
    a = squared_arrays()
    a["Y"][:] = np.nan
    one_line_error(build_instance, r"array Y has non-finite entries \(12 NaN of 12\)", a)


@pytest.mark.parametrize("drop, match", [("W2", "W1 is given but W2 is not"), ("W1", "W2 is given but W1 is not")])
def test_only_one_weight(drop, match):
    a = squared_arrays()
    del a[drop]
    one_line_error(build_instance, match, a, width=4)


def test_weight_shape_mismatches():
    a = squared_arrays(n=3, m=2, h=4)
    one_line_error(build_instance, r"W1 has 2 rows but the loss has n = 3 \(W1 must be n x h\)",
                   {**a, "W1": np.ones((2, 4))})
    one_line_error(build_instance, r"W2 has 3 rows but the loss has m = 2 \(W2 must be m x h\)",
                   {**a, "W2": np.ones((3, 4))})
    one_line_error(build_instance, "W1 is 3 x 4 but W2 is 2 x 5; they need the same width h",
                   {**a, "W2": np.ones((2, 5))})
    one_line_error(build_instance, r"array W1 has shape \(12,\); expected 2-D \(n x h\)",
                   {**a, "W1": np.ones(12)})


def test_width_conflicts_with_file_weights():
    one_line_error(build_instance, "--width 6 conflicts with the width h = 4 of W1, W2", squared_arrays(h=4),
                   width=6)


def test_width_required_without_weights():
    msg = one_line_error(build_instance, "no weights W1, W2 in the data; give --width to generate them",
                         squared_arrays(weights=False), source="in.npz")
    assert msg.startswith("in.npz: ")


@pytest.mark.parametrize("width", [0, -3, 2.5, True, "4"])
def test_width_invalid(width):
    one_line_error(build_instance, "--width must be a positive integer", squared_arrays(weights=False),
                   width=width)


def test_width_below_min_n_m():
    # generated weights
    one_line_error(build_instance, r"width h = 1 is below min\(n, m\) = 2; Problem 2 needs h >= min\(n, m\)",
                   squared_arrays(n=3, m=2, weights=False), width=1)
    # weights from the file
    one_line_error(build_instance, r"width h = 2 is below min\(n, m\) = 3",
                   squared_arrays(n=3, m=4, h=2))
    # h = min(n, m) is allowed
    assert build_instance(squared_arrays(n=3, m=4, h=3)).h == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"init": "orthogonal"}, "unknown init scheme 'orthogonal'; choose one of gaussian, xavier, he"),
    ({"std": 0.5, "p": 0.3}, "give either std or p for the gaussian init, not both"),
    ({"std": 0.0}, "std must be a positive finite number"),
    ({"std": float("nan")}, "std must be a positive finite number"),
    ({"p": -0.1}, "p must be a positive finite number"),
    ({"init": "he", "std": 1.0}, "std applies only to the gaussian init"),
    ({"seed": -1}, "seed must be a non-negative integer or None"),
])
def test_init_errors_are_prefixed(kwargs, match):
    msg = one_line_error(build_instance, match, squared_arrays(weights=False), width=4, source="f.npz", **kwargs)
    assert msg.startswith("f.npz: ")


def test_string_in_place_of_array():
    one_line_error(build_instance, "array X is a string", {"X": "oops", "Y": np.eye(2)}, width=2)
