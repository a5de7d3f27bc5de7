"""Data files and instances: loading ``.npz``, validating, building the loss and the weights.

Data-file format (``.npz``, loaded with ``allow_pickle=False``):

* squared loss: ``X`` (N x n), ``Y`` (N x m); factorization: ``Y`` (n x m);
  sensing: ``A`` (p x n x m), ``y`` (p,)
* optional ``W1`` (n x h) and ``W2`` (m x h); without them the weights are
  generated (``width``, ``init``, ``std`` / ``p``, ``seed``).
* arrays must be real numbers (integer or floating dtypes; read as float64).
  Scalar strings (0-d unicode arrays, as :func:`save_arrays` writes them) are
  allowed as annotations and come back as ``str``; every other dtype is an error.

Every problem raises :class:`~convtool.errors.InputError` with a one-line message
that starts with the file (or the ``source`` given to :func:`build_instance`).
Nothing here modifies the caller's arrays: everything is copied to float64.

Examples
--------
>>> from convtool.numeric.generators import fig1
>>> inst = build_instance(fig1(n=4, h=6, seed=0))
>>> inst.n, inst.m, inst.h, inst.meta["init"]
(4, 4, 6, 'file')
>>> inst = build_instance({"Y": np.eye(3)}, loss="factorization", width=5, init="he", seed=1)
>>> inst.W1.shape, inst.meta["init"], inst.loss.mu
((3, 5), 'he', 1.0)
"""

from __future__ import annotations

import numbers
import os
import stat
import zipfile
from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.init import init_std, init_weights
from convtool.numeric.losses import LOSS_ARRAYS, LOSSES, Loss, make_loss

__all__ = ["Instance", "load_arrays", "build_instance", "load_instance", "default_instance", "save_arrays"]

#: expected shape of each array, as the messages print it
_SHAPES = {
    "squared": {"X": "N x n", "Y": "N x m"},
    "factorization": {"Y": "n x m"},
    "sensing": {"A": "p x n x m", "y": "p"},
}


@dataclass
class Instance:
    """A loss with initial weights: everything a constants computation or a GD run needs."""

    loss: Loss
    W1: np.ndarray
    W2: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.W1.shape[0]

    @property
    def m(self) -> int:
        return self.W2.shape[0]

    @property
    def h(self) -> int:
        return self.W1.shape[1]


def _one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space."""
    return " ".join(str(text).split())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Raiser:
    """Builds one-line InputErrors prefixed with the file or source name."""

    def __init__(self, where: str):
        self.prefix = f"{_one_line(where)}: " if where else ""

    def __call__(self, problem: str) -> InputError:
        return InputError(_one_line(self.prefix + problem))


def _dtype_problem(name: str, arr: np.ndarray) -> str | None:
    """None if ``arr`` holds real numbers, else the reason."""
    kind = arr.dtype.kind
    if kind in "iuf":
        return None
    if kind == "c":
        return f"array {name} is complex ({arr.dtype}); only real numbers are supported"
    return f"array {name} has non-numeric dtype {arr.dtype}"


def load_arrays(path) -> dict:
    """Read an ``.npz`` file into a dict of float64 arrays; InputError on any problem.

    Parameters
    ----------
    path : str or path-like
        An ``.npz`` archive (``np.savez``); read with ``allow_pickle=False``.

    Returns
    -------
    dict
        Name -> float64 array (a fresh copy), or name -> ``str`` for 0-d string
        annotations.

    Raises
    ------
    InputError
        One line naming the file and the problem: missing or unreadable file, not
        an ``.npz`` archive (including ``.npy`` files), pickled (object) arrays,
        a member that is not an array, non-numeric or complex dtypes.
    """
    err = _Raiser(f"data file {os.fspath(path)}")
    if not os.path.exists(path):
        raise err("file not found")
    if os.path.isdir(path):
        raise err("is a directory, not an .npz file")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise err(f"cannot read ({exc.strerror or _first_line(exc)})") from exc
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device has size 0 but is not empty: never read one
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if (
            stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "a socket" if stat.S_ISSOCK(st.st_mode) else \
            "not a regular file"
        raise err(f"is {kind}, not a regular .npz file")
    if st.st_size == 0:
        raise err("is empty, not an .npz archive")
    _check_headers(path, err)
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):  # np.load falls back to pickle for unknown formats
            raise err("not an .npz archive (unrecognized format; pickled files are refused)") from exc
        raise err(f"not a readable .npz archive ({_first_line(exc)})") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise err(f"cannot read ({_first_line(exc)})") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise err("is a single .npy array, not an .npz archive of named arrays (write it with np.savez)")
    out = {}
    with loaded:
        # a file convtool wrote (run/compare/schedule --out: a JSON 'metadata' string) also holds the run's
        # records: boolean check flags (read as 0/1) and per-seed status strings (read as a tuple of str)
        ours = "metadata" in loaded.files and _is_convtool_metadata(loaded, "metadata")
        for name in loaded.files:
            try:
                value = loaded[name]
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise err(f"array {name} holds pickled Python objects (object dtype), "
                              f"which are refused; store numeric arrays only") from exc
                raise err(f"cannot read array {name} ({_first_line(exc)})") from exc
            except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
                raise err(f"cannot read array {name} ({_first_line(exc)})") from exc
            if not isinstance(value, np.ndarray):
                raise err(f"member {name} is not a .npy array")
            if value.dtype.kind == "U" and value.ndim == 0:
                out[name] = str(value[()])
                continue
            if ours and value.dtype.kind == "b":
                out[name] = value.astype(np.float64)
                continue
            if ours and value.dtype.kind == "U" and value.ndim == 1:
                out[name] = tuple(str(v) for v in value)
                continue
            problem = _dtype_problem(name, value)
            if problem:
                raise err(problem)
            out[name] = np.array(value, dtype=np.float64)
    return out


def _is_convtool_metadata(loaded, name: str) -> bool:
    """True when member ``name`` is a 0-d string holding a JSON object (the ``metadata`` convtool writes)."""
    import json

    try:
        v = loaded[name]
        return v.dtype.kind == "U" and v.ndim == 0 and isinstance(json.loads(str(v[()])), dict)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def _check_headers(path, err: _Raiser) -> None:
    """Read each member's ``.npy`` header (shape, dtype) and refuse one larger than the memory limit.

    A 450-byte file can claim a 10^6 x 10^6 array; the claim is checked before anything is allocated.
    Files that are not zip archives are left to ``np.load``'s own error.
    """
    from convtool.limits import check_bytes

    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-4]
                with zf.open(info) as fh:
                    try:
                        version = np.lib.format.read_magic(fh)
                        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                  else np.lib.format.read_array_header_2_0)
                        shape, _, dtype = reader(fh, max_header_size=10 ** 5)
                    except Exception as exc:  # numpy parses the header text: any failure means a malformed one
                        raise err(f"array {name} has a malformed .npy header ({_first_line(exc)})") from None
                n = 1
                for dim in shape:
                    n *= int(dim)
                nbytes = n * max(dtype.itemsize, 8)  # read as float64
                check_bytes(nbytes, f"array {name} of shape {tuple(shape)} (as its header claims)",
                            "the file cannot be loaded")
    except InputError as exc:
        raise err(str(exc)) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise err(f"cannot read ({_first_line(exc)})") from exc


def _as_float(name: str, value, err: _Raiser) -> np.ndarray:
    if isinstance(value, str):
        raise err(f"array {name} is a string, expected numbers")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise err(f"array {name} is not a numeric array ({_first_line(exc)})") from exc
    problem = _dtype_problem(name, arr)
    if problem:
        raise err(problem)
    return np.array(arr, dtype=np.float64)  # always a copy


def _check_ndim(name: str, arr: np.ndarray, ndim: int, shape: str, err: _Raiser) -> None:
    if arr.ndim != ndim:
        raise err(f"array {name} has shape {arr.shape}; expected {ndim}-D ({shape})")
    if arr.size == 0:
        raise err(f"array {name} is empty (shape {arr.shape})")


def _check_finite(name: str, arr: np.ndarray, err: _Raiser) -> None:
    if np.isfinite(arr).all():
        return
    nan = int(np.isnan(arr).sum())
    inf = int(np.isinf(arr).sum())
    parts = [f"{nan} NaN" if nan else "", f"{inf} inf" if inf else ""]
    raise err(f"array {name} has non-finite entries ({', '.join(x for x in parts if x)} "
              f"of {arr.size})")


def _check_width(width, err: _Raiser) -> int:
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise err(f"--width must be a positive integer, got {width!r}")
    return int(width)


def build_instance(arrays: dict, *, loss: str = "squared", width: int | None = None, init: str = "gaussian",
                   std: float | None = None, p: float | None = None, seed: int | None = 0,
                   source: str = "") -> Instance:
    """Validate arrays, build the loss, take or generate the weights.

    Parameters
    ----------
    arrays : dict
        Name -> array (see the module docstring for the names each loss reads);
        never modified. Names the loss does not read are ignored.
    loss : {"squared", "factorization", "sensing"}
    width : int, optional
        Width h of generated weights. Required when ``arrays`` has no ``W1, W2``;
        with them it must equal their width if given.
    init, std, p, seed
        Passed to :func:`convtool.numeric.init.init_weights` when the weights are
        generated (ignored when ``W1, W2`` are given).
    source : str
        Where the arrays came from; prefixes every error message and is stored in
        :attr:`Instance.source`.

    Returns
    -------
    Instance
        ``meta`` holds ``loss, N, n, m, h`` and either ``init: "file"`` or the init
        settings ``init`` (scheme), ``std``, ``p``, ``seed`` with the resulting
        per-layer ``std_W1, std_W2``.

    Raises
    ------
    InputError
        One line: unknown loss, missing arrays, wrong ndim, mismatched shapes,
        non-finite entries (with counts), only one of W1/W2, width missing or
        conflicting, ``h < min(n, m)``, bad init settings. A rank-deficient X is
        accepted (the loss reports ``mu = 0``).
    """
    err = _Raiser(source)
    if loss not in LOSSES:
        raise err(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    needed = LOSS_ARRAYS[loss]
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise err(f"loss {loss!r} needs array(s) {', '.join(missing)}"
                  f" (found: {', '.join(sorted(map(str, arrays))) or 'none'})")
    data = {k: _as_float(k, arrays[k], err) for k in needed}
    shapes = _SHAPES[loss]

    if loss == "squared":
        X, Y = data["X"], data["Y"]
        _check_ndim("X", X, 2, shapes["X"], err)
        _check_ndim("Y", Y, 2, shapes["Y"], err)
        if X.shape[0] != Y.shape[0]:
            raise err(f"X is {X.shape[0]} x {X.shape[1]} but Y is {Y.shape[0]} x {Y.shape[1]}; "
                      f"they need the same number of rows N")
        n, m = X.shape[1], Y.shape[1]
    elif loss == "factorization":
        _check_ndim("Y", data["Y"], 2, shapes["Y"], err)
        n, m = data["Y"].shape
    else:
        A, y = data["A"], data["y"]
        _check_ndim("A", A, 3, shapes["A"], err)
        _check_ndim("y", y, 1, shapes["y"], err)
        if y.shape[0] != A.shape[0]:
            raise err(f"A holds {A.shape[0]} measurement matrices but y has {y.shape[0]} entries")
        n, m = A.shape[1], A.shape[2]
    for k in needed:
        _check_finite(k, data[k], err)

    has1, has2 = "W1" in arrays, "W2" in arrays
    if has1 != has2:
        present, absent = ("W1", "W2") if has1 else ("W2", "W1")
        raise err(f"{present} is given but {absent} is not; give both weights or neither")
    if has1:
        W1 = _as_float("W1", arrays["W1"], err)
        W2 = _as_float("W2", arrays["W2"], err)
        _check_ndim("W1", W1, 2, "n x h", err)
        _check_ndim("W2", W2, 2, "m x h", err)
        if W1.shape[0] != n:
            raise err(f"W1 has {W1.shape[0]} rows but the loss has n = {n} (W1 must be n x h)")
        if W2.shape[0] != m:
            raise err(f"W2 has {W2.shape[0]} rows but the loss has m = {m} (W2 must be m x h)")
        if W1.shape[1] != W2.shape[1]:
            raise err(f"W1 is {W1.shape[0]} x {W1.shape[1]} but W2 is {W2.shape[0]} x {W2.shape[1]}; "
                      f"they need the same width h (columns)")
        h = W1.shape[1]
        if width is not None and _check_width(width, err) != h:
            raise err(f"--width {width} conflicts with the width h = {h} of W1, W2 in the data")
        if h < min(n, m) and loss != "factorization":  # Du, Hu & Lee's factorization has h = rank(M*) (issue 9)
            raise err(f"width h = {h} is below min(n, m) = {min(n, m)}; Problem 2 needs h >= min(n, m)")
        _check_finite("W1", W1, err)
        _check_finite("W2", W2, err)
        init_meta = {"init": "file"}
    else:
        if width is None:
            raise err("no weights W1, W2 in the data; give --width to generate them")
        h = _check_width(width, err)
        if h < min(n, m) and loss != "factorization":
            raise err(f"width h = {h} is below min(n, m) = {min(n, m)}; Problem 2 needs h >= min(n, m)")
        try:
            s1, s2 = init_std(n, m, h, init, std=std, p=p)
            W1, W2 = init_weights(n, m, h, init, std=std, p=p, seed=seed)
        except InputError as exc:
            raise err(str(exc)) from None
        init_meta = {"init": init, "std": None if std is None else float(std),
                     "p": None if p is None else float(p), "seed": seed, "std_W1": s1, "std_W2": s2}

    try:
        with np.errstate(all="ignore"):
            loss_obj = make_loss(loss, data)
    except InputError as exc:
        raise err(str(exc)) from None
    except (np.linalg.LinAlgError, OverflowError, FloatingPointError, ValueError):
        loss_obj = None
    _check_representable(loss_obj, data, W1, W2, err, generated=not has1)
    meta = {"loss": loss, "N": int(loss_obj.N) if loss_obj.N is not None else None,
            "n": int(n), "m": int(m), "h": int(h), **init_meta}
    return Instance(loss=loss_obj, W1=W1, W2=W2, source=source, meta=meta)


def _amax(arrays: dict) -> str:
    return ", ".join(f"max |{k}| = {float(np.max(np.abs(v))):.3g}" for k, v in arrays.items())


def _check_representable(loss_obj, data: dict, W1, W2, err: _Raiser, generated: bool) -> None:
    """One-line errors where float64 cannot hold the instance's own quantities (Grams, L(0), the rate bounds).

    Finite entries can still overflow once squared (X x 1e100: X^T X; weights x 1e77: W1 W2^T and
    ||W1||_F ||W2||_F; Y x 1e160: l*), or underflow to a false rank deficiency (X = 1e-300 I:
    X^T X = 0 although X has full rank). Both are refused with the scale that caused them.
    """
    names = ", ".join(data)
    if loss_obj is None or not all(np.all(np.isfinite(v)) for v in
                                   (loss_obj.mu, loss_obj.K, loss_obj.lstar, loss_obj.Wstar)):
        raise err(f"the data are too large for float64: its Gram matrix, minimizer or optimal value l* overflows "
                  f"({_amax(data)}); rescale {names}")
    with np.errstate(all="ignore"):
        W = W1 @ W2.T
        L0 = np.asarray(loss_obj.excess(W), dtype=float)
        G = loss_obj.grad(W)
        fro = float(np.sum(W1 * W1)) * float(np.sum(W2 * W2))
        weights_ok = bool(np.all(np.isfinite(W)) and np.isfinite(fro))
        joint_ok = bool(np.isfinite(L0) and np.all(np.isfinite(G)) and np.isfinite(2.0 * loss_obj.K * L0)
                        and np.isfinite(loss_obj.K * fro))
    fix = "lower --std or --p" if generated else "rescale W1, W2"
    if not weights_ok:
        raise err(f"the initial weights are too large for float64: W1 W2^T or ||W1||_F^2 ||W2||_F^2 overflows "
                  f"({_amax({'W1': W1, 'W2': W2})}); {fix}")
    if not joint_ok:
        raise err(f"the data and the initial weights together overflow float64: l(W(0)), its gradient or "
                  f"K ||W1||_F^2 ||W2||_F^2 is not finite (K = {float(loss_obj.K):.3g}, {_amax(data)}, "
                  f"{_amax({'W1': W1, 'W2': W2})}); rescale {names} or the weights")
    if not loss_obj.mu > 0:
        op = data.get("X", None) if "X" in data else (loss_obj.M if hasattr(loss_obj, "M") else None)
        if op is not None and op.shape[0] >= op.shape[1]:
            sv = np.linalg.svd(op, compute_uv=False)
            full = sv[-1] > sv[0] * max(op.shape) * np.finfo(np.float64).eps
            if full:
                which = "X" if "X" in data else "the sensing operator"
                raise err(f"{which} has full column rank (sigma_min = {sv[-1]:.3g}, sigma_max = {sv[0]:.3g}) but its "
                          f"Gram matrix underflows float64 (mu = sigma_min^2 rounds to 0); rescale {names}")


def load_instance(path, **kwargs) -> Instance:
    """``build_instance(load_arrays(path), source=str(path), **kwargs)``."""
    return build_instance(load_arrays(path), source=str(path), **kwargs)


#: parameters of :func:`default_instance`
DEFAULT_FIG1 = {"n": 10, "h": 500, "sigma": 1.0, "seed": 0}


def default_instance() -> Instance:
    """The built-in default: Fig. 1 setting, n = m = 10, h = 500, sigma = 1, seed 0.

    Examples
    --------
    >>> inst = default_instance()
    >>> inst.source
    'built-in default (Fig. 1, h=500, sigma=1, seed 0)'
    >>> inst.n, inst.m, inst.h, inst.meta["init"]
    (10, 10, 500, 'fig1')
    """
    from convtool.numeric.generators import fig1

    inst = build_instance(fig1(**DEFAULT_FIG1), loss="squared",
                          source="built-in default (Fig. 1, h=500, sigma=1, seed 0)")
    inst.meta.update({"init": "fig1", "generator": "fig1", "generator_params": dict(DEFAULT_FIG1)})
    return inst


def save_arrays(path, arrays: dict) -> None:
    """Write arrays to ``.npz`` (no pickles).

    Numeric arrays are written as float64, ``str`` values as 0-d numpy unicode
    arrays (read back by :func:`load_arrays` as ``str``). The file is written at
    exactly ``path`` (no ``.npz`` suffix is appended).

    Raises
    ------
    InputError
        A value that is neither numeric nor ``str``, or an unwritable path.
    """
    err = _Raiser(f"output file {os.fspath(path)}")
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise err(f"array names must be non-empty strings, got {name!r}")
        if isinstance(value, str):
            out[name] = np.array(value, dtype=np.str_)
            continue
        out[name] = _as_float(name, value, err)
    from convtool.files import atomic_write

    try:  # float64 and unicode only: nothing to pickle; written beside the target, then renamed into place
        atomic_write(os.fspath(path), lambda fh: np.savez(fh, **out))
    except OSError as exc:
        raise err(f"cannot write ({exc.strerror or _first_line(exc)})") from exc
