"""One feed-forward implementation for every network convtool trains on samples: ``a W_N phi(... phi(W_1 x))``.

:class:`FeedForward` is the forward map, the backward pass and the GD step of a bias-free fully connected
network with one activation ``phi`` between the layers and none after the last, batched over R seeds,
samples as rows. It serves the homogeneous nets of Du, Hu & Lee (``--model mlp``: relu, leaky-relu,
linear), the shallow nets of Song et al. (``--model shallow``: N = 2, a smooth phi) and, with the linear
activation and ``scale = a_N = 1/sqrt(n_1 ... n_N)``, Zhao & Xu's deep linear network (whose own
:class:`~convtool.numeric.deep_linear.DeepLinear` works on the end-to-end matrix instead of on the samples;
the two agree to round-off: tests/test_feedforward.py).

For the engine (:func:`convtool.numeric.engine.run`) the model's ``product`` is the prediction matrix
``F`` (R, N, k) (``n, m = N, k``), so the output loss is
:class:`~convtool.numeric.losses.FactorizationLoss` of the targets ``Y`` (N, k): ``1/2 ||F - Y||_F^2``.

Layouts: ``X`` (N, d) samples as rows; layer ``W_j`` (n_j, n_{j-1}), n_0 = d, n_N = k, as in the papers'
``W_j x``; the state is the tuple ``(W_1, ..., W_N)`` of (R, n_j, n_{j-1}) arrays.

Forward: ``Z_1 = X W_1^T``, ``A_j = phi(Z_j)``, ``Z_{j+1} = A_j W_{j+1}^T``, ``F = scale Z_N``.
Backward with ``G = dl/dF``: ``Delta_N = scale G``, ``dl/dW_j = Delta_j^T A_{j-1}`` (A_0 = X),
``Delta_{j-1} = (Delta_j W_j) * phi'(Z_{j-1})``. ReLU at 0 uses the subgradient ``phi'(0) = 0``
(:data:`ACTIVATIONS`), the choice of autograd frameworks.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(8, 3))
>>> net = FeedForward([rng.normal(size=(5, 3)), rng.normal(size=(2, 5))], X, "relu")
>>> st = net.init_state()
>>> net.product(st).shape, net.widths, (net.n, net.m)
((1, 8, 2), (3, 5, 2), (8, 2))
>>> g = net.param_grads(st, net.product(st))       # gradient of 1/2 ||F||^2
>>> [a.shape for a in g]
[(1, 5, 3), (1, 2, 5)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from convtool.errors import InputError

__all__ = ["Activation", "ACTIVATIONS", "make_activation", "FeedForward"]


@dataclass(frozen=True)
class Activation:
    """An activation as the engine needs it: vectorized ``phi`` and ``dphi`` (and ``d2phi`` where defined).

    ``homogeneous``: positively 1-homogeneous, ``phi(c z) = c phi(z)`` for c > 0 (Du, Hu & Lee's
    condition ``phi(z) = phi'(z) z``); ``linear``: the identity; ``subgradient``: the value of ``dphi``
    where phi is not differentiable, in words.
    """

    name: str
    phi: Callable
    dphi: Callable
    d2phi: Callable | None = None
    homogeneous: bool = False
    linear: bool = False
    subgradient: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "homogeneous": self.homogeneous, "linear": self.linear,
                **({"subgradient": self.subgradient} if self.subgradient else {})}


def _relu(z):
    return np.maximum(z, 0.0)


def _drelu(z):
    return (z > 0).astype(np.float64)


def _leaky(a: float) -> Activation:
    def phi(z):
        return np.where(z > 0, z, a * z)

    def dphi(z):
        return np.where(z > 0, 1.0, a)

    return Activation(f"leaky-relu({a:g})", phi, dphi, lambda z: np.zeros_like(z), homogeneous=True,
                      subgradient=f"phi'(0) = {a:g} (the left derivative)")


#: the built-in homogeneous activations (``make_activation``); smooth ones come from sympy expressions
ACTIVATIONS = {
    "linear": Activation("linear", lambda z: z, lambda z: np.ones_like(z), lambda z: np.zeros_like(z),
                         homogeneous=True, linear=True),
    "relu": Activation("relu", _relu, _drelu, lambda z: np.zeros_like(z), homogeneous=True,
                       subgradient="phi'(0) = 0"),
}


def make_activation(name, slope: float = 0.01) -> Activation:
    """``linear``, ``relu``, ``leaky-relu`` (slope ``slope`` for z < 0), or an :class:`Activation` as is."""
    if isinstance(name, Activation):
        return name
    if name == "leaky-relu":
        slope = float(slope)
        if not (np.isfinite(slope) and 0 <= slope):
            raise InputError(f"leaky-relu slope must be finite and >= 0, got {slope!r}")
        return _leaky(slope)
    if name not in ACTIVATIONS:
        raise InputError(f"unknown activation {name!r}; choose from linear, relu, leaky-relu")
    return ACTIVATIONS[name]


def _as_batched(layers, what: str = "layer") -> list:
    out = []
    for j, W in enumerate(layers, start=1):
        A = np.array(W, dtype=np.float64)  # a copy: never modify the caller's arrays
        if A.ndim == 2:
            A = A[None]
        if A.ndim != 3 or A.size == 0:
            raise InputError(f"{what} W{j} must be a non-empty 2-D array (or batched 3-D), got shape {A.shape}")
        if not np.isfinite(A).all():
            raise InputError(f"{what} W{j} has non-finite entries")
        out.append(A)
    R = max(A.shape[0] for A in out)
    for j, A in enumerate(out, start=1):
        if A.shape[0] not in (1, R):
            raise InputError(f"{what} W{j} has batch size {A.shape[0]}, others {R}")
    out = [np.broadcast_to(A, (R,) + A.shape[1:]).copy() if A.shape[0] != R else A for A in out]
    for j in range(1, len(out)):
        if out[j].shape[2] != out[j - 1].shape[1]:
            raise InputError(f"{what} W{j + 1} has {out[j].shape[2]} columns but W{j} has {out[j - 1].shape[1]} "
                             f"rows (W_j is n_j x n_(j-1))")
    return out


class FeedForward:
    """``F = scale * phi(... phi(X W_1^T) ...) W_N^T`` (R, N, k), batched over R seeds (module docstring).

    Parameters
    ----------
    layers : sequence of N >= 1 arrays
        Initial ``W_j`` of shape (n_j, n_{j-1}) or (R, n_j, n_{j-1}); copied, never modified.
    X : array (N, d)
        The samples, as rows.
    activation : str or Activation
        :func:`make_activation`'s names or an :class:`Activation` (e.g. from a sympy expression).
    scale : float
        Output factor (1 for mlp and shallow; ``a_N`` for the deep linear network of Zhao & Xu).
    slope : float
        Leaky-ReLU slope.
    """

    name = "feed-forward"

    def __init__(self, layers: Sequence, X, activation="relu", scale: float = 1.0, slope: float = 0.01):
        Ws = _as_batched(layers)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.size == 0:
            raise InputError(f"X must be a non-empty 2-D array (samples as rows), got shape {X.shape}")
        if not np.isfinite(X).all():
            raise InputError("X has non-finite entries")
        if X.shape[1] != Ws[0].shape[2]:
            raise InputError(f"X has {X.shape[1]} columns (features) but W1 has {Ws[0].shape[2]} (W1 is n_1 x d)")
        self.X = X
        self.act = make_activation(activation, slope)
        self.scale = float(scale)
        self.N = len(Ws)
        self.R = Ws[0].shape[0]
        self.widths = (int(X.shape[1]),) + tuple(int(W.shape[1]) for W in Ws)
        self.samples = int(X.shape[0])
        self.n, self.m = self.samples, self.widths[-1]
        self.W_0 = Ws
        self._cache = None

    # -- forward with a one-state cache (product then param_grads on the same state) -----------------
    def forward(self, state) -> tuple[list, list]:
        """``(Z, A)``: pre-activations ``Z_1 .. Z_N`` and activations ``A_0 = X, A_1 .. A_{N-1}`` (R, N, n_j)."""
        c = self._cache
        if c is not None and len(c[0]) == len(state) and all(a is b for a, b in zip(c[0], state)):
            return c[1], c[2]
        if len(state) != self.N:
            raise InputError(f"state has {len(state)} layers; this model has N = {self.N}")
        A = [np.broadcast_to(self.X, (self.R,) + self.X.shape)]
        Z = []
        for j, W in enumerate(state):
            Zj = np.matmul(A[-1], np.swapaxes(W, -1, -2))
            Z.append(Zj)
            if j < self.N - 1:
                A.append(self.act.phi(Zj))
        self._cache = (tuple(state), Z, A)
        return Z, A

    def product(self, state) -> np.ndarray:
        """The predictions ``F`` (R, N, k): the argument of the output loss."""
        Z, _ = self.forward(state)
        return self.scale * Z[-1] if self.scale != 1.0 else Z[-1]

    def param_grads(self, state, Gl) -> tuple:
        """``dl/dW_j`` (R, n_j, n_{j-1}) from ``Gl = dl/dF`` (R, N, k) by backpropagation."""
        Z, A = self.forward(state)
        D = np.asarray(Gl, dtype=np.float64) * self.scale
        grads = [None] * self.N
        for j in range(self.N - 1, -1, -1):
            grads[j] = np.matmul(np.swapaxes(D, -1, -2), A[j])
            if j > 0:
                D = np.matmul(D, state[j]) * self.act.dphi(Z[j - 1])
        return tuple(grads)

    def step(self, state, grads, eta) -> tuple:
        """Plain GD ``W_j - eta g_j`` (eta scalar or (R,)); new arrays."""
        e = np.broadcast_to(np.asarray(eta, dtype=np.float64), (self.R,))[:, None, None]
        return tuple(W - e * g for W, g in zip(state, grads))

    def grad_sq(self, state, grads) -> np.ndarray:
        """``sum_j ||dl/dW_j||_F^2`` (R,)."""
        return sum(np.einsum("rij,rij->r", g, g) for g in grads)

    def round_off(self, state) -> np.ndarray:
        """A bound on the error of the computed predictions (R,): ``64 eps |scale| ||X||_F prod_j ||W_j||_F``
        (for activations with |phi(z)| <= |z|, as every built-in one; the engine's rounding band)."""
        prod = np.full(self.R, abs(self.scale) * float(np.linalg.norm(self.X)))
        for W in state:
            prod = prod * np.sqrt(np.einsum("rij,rij->r", W, W))
        return 64 * np.finfo(np.float64).eps * prod

    def init_state(self) -> tuple:
        return tuple(W.copy() for W in self.W_0)

    def full_weights(self, state) -> list:
        return list(state)
