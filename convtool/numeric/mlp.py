"""The homogeneous feed-forward net of Du, Hu & Lee (``--model mlp``) on the shared feed-forward implementation.

``f(x) = W_N phi(W_{N-1} ... phi(W_1 x))``, no biases, ``phi`` relu, leaky-relu (slope a) or linear; layers
``W_j`` of shape (n_j, n_{j-1}) as for ``deep-linear``, samples as rows ``X`` (M, d), ``Y`` (M, k); loss
``1/2 ||F - Y||_F^2`` (:class:`~convtool.numeric.losses.FactorizationLoss` of Y on the prediction matrix F).
The model is :class:`~convtool.numeric.feedforward.FeedForward` itself (``scale = 1``): a linear mlp is the
deep linear network without the a_N factor. Init (Section 4): i.i.d. ``N(0, s_j^2)`` per layer
(:func:`init_mlp_layers`, ``--layer-std s1,...,sN``: standard deviations). The paper's balanced setting
``Var = 1e-4/100, 1e-4/10, 1e-4`` for widths 1000 -> 100 -> 100 -> 10 gives ``E||W_j||_F^2 = 0.1`` for all j
(variances, as the notes' item 18 reads; the std is their square root).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
>>> layers = init_mlp_layers((4, 8, 8, 2), [0.5, 0.3, 0.2], seed=0)
>>> res = run_mlp(X, Y, layers, activation="relu", schedule="constant", eta=1e-3, steps=20)
>>> res.config["model"], res.violations()["balanced_B1_step"]
('mlp', 0)
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError

__all__ = ["MLP_ACTIVATIONS", "MLP_SCHEDULES", "init_mlp_layers", "default_layer_std", "make_mlp", "run_mlp",
           "expected_sq_norms"]

#: the activations of the mlp model (Du, Hu & Lee's homogeneous ones)
MLP_ACTIVATIONS = ("relu", "leaky-relu", "linear")
#: model-neutral schedules that apply to the mlp model
MLP_SCHEDULES = ("constant", "backtracking", "adgd")


def default_layer_std(widths) -> list:
    """``s_j = 1 / sqrt(n_{j-1})`` (LeCun), the default of :func:`init_mlp_layers`."""
    return [1.0 / np.sqrt(float(n)) for n in widths[:-1]]


def expected_sq_norms(widths, layer_std) -> list:
    """``E ||W_j||_F^2 = n_j n_{j-1} s_j^2`` for i.i.d. N(0, s_j^2) entries (notes Sec. 2.1)."""
    return [float(widths[j + 1] * widths[j] * s * s) for j, s in enumerate(layer_std)]


def _check_std(layer_std, N: int) -> list:
    try:
        s = [float(x) for x in layer_std]
    except (TypeError, ValueError):
        raise InputError(f"layer std must be numbers, got {layer_std!r}") from None
    if len(s) == 1:
        s = s * N
    if len(s) != N:
        raise InputError(f"{len(s)} layer standard deviations for N = {N} layers (give N of them, or one for all)")
    if not all(np.isfinite(x) and x > 0 for x in s):
        raise InputError(f"layer standard deviations must be positive and finite, got {s}")
    return s


def init_mlp_layers(widths, layer_std=None, seed: int = 0, R: int = 1) -> list:
    """``W_j`` (R, n_j, n_{j-1}) with i.i.d. ``N(0, s_j^2)`` entries; seed r of the batch uses
    ``default_rng(seed + r)`` and draws W_1, ..., W_N in turn. ``layer_std``: N values or one for all
    (default :func:`default_layer_std`)."""
    w = [int(n) for n in widths]
    if len(w) < 3 or any(n < 1 for n in w):
        raise InputError(f"mlp widths (n_0, ..., n_N) need N >= 2 layers of positive widths; got {tuple(widths)}")
    N = len(w) - 1
    s = default_layer_std(w) if layer_std is None else _check_std(layer_std, N)
    out = [np.empty((int(R), w[j + 1], w[j])) for j in range(N)]
    for r in range(int(R)):
        rng = np.random.default_rng(int(seed) + r)
        for j in range(N):
            out[j][r] = s[j] * rng.standard_normal((w[j + 1], w[j]))
    return out


def make_mlp(X, layers, activation: str = "relu", slope: float = 0.01):
    """The mlp model: :class:`~convtool.numeric.feedforward.FeedForward` (scale 1) named ``"mlp"``."""
    from convtool.numeric.feedforward import FeedForward

    if isinstance(activation, str) and activation not in MLP_ACTIVATIONS:
        raise InputError(f"unknown mlp activation {activation!r}; choose from {', '.join(MLP_ACTIVATIONS)}")
    if len(layers) < 2:
        raise InputError(f"the mlp model needs N >= 2 layers (one adjacent pair); got {len(layers)}")
    net = FeedForward(layers, X, activation, scale=1.0, slope=slope)
    net.name = "mlp"
    return net


def run_mlp(X, Y, layers, *, activation: str = "relu", slope: float = 0.01, schedule: str = "constant",
            eta: float | None = None, steps: int = 100, tol: float = 1e-14, record_neurons: bool | None = None,
            schedule_options: dict | None = None, progress=None, phase=None):
    """GD on ``1/2 ||f(X) - Y||_F^2`` with Du, Hu & Lee's balancedness theory attached; the engine's RunResult.

    ``schedule``: ``constant`` (needs ``eta``), ``backtracking`` or ``adgd``.
    """
    from convtool.numeric.engine import run
    from convtool.numeric.losses import FactorizationLoss
    from convtool.numeric.theories.balanced import Balanced

    if schedule not in MLP_SCHEDULES:
        raise InputError(f"schedule {schedule!r} does not apply to the mlp model; choose from "
                         f"{', '.join(MLP_SCHEDULES)}")
    if schedule == "constant" and eta is None:
        raise InputError("--schedule constant on the mlp model needs --eta (or use backtracking / adgd)")
    if schedule != "constant" and eta is not None:
        raise InputError(f"--eta applies to --schedule constant, not {schedule}")
    Y = np.asarray(Y, dtype=np.float64)
    net = make_mlp(X, layers, activation, slope)
    if Y.shape != (net.samples, net.widths[-1]):
        raise InputError(f"Y has shape {Y.shape}; the net gives predictions of shape ({net.samples}, {net.widths[-1]})")
    res = run(net, FactorizationLoss(Y), schedule, theories=[Balanced(record_neurons=record_neurons)], steps=steps,
              eta0=eta, tol=tol, schedule_options=schedule_options, progress=progress, phase=phase)
    res.config.update(model="mlp", widths=list(net.widths), activation=net.act.to_dict())
    return res
