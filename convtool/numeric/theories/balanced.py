"""Du, Hu & Lee's balancedness invariants along a GD run, on every model they cover (paper key ``"du-hu-lee"``).

S. S. Du, W. Hu and J. D. Lee, "Algorithmic Regularization in Learning Deep Homogeneous Models: Layers are
Automatically Balanced", NeurIPS 2018 (arXiv:1806.00900). One theory, :class:`Balanced`, attached to the
two-layer model (``TwoLayerLinear``), the deep linear network (``DeepLinear``) and the homogeneous
feed-forward net (``FeedForward``, ``--model mlp``); in the library also the linear ResNet model's no-skip
baseline ``B W_L ... W_1 A`` (``LinearResNet(skip=False)``: the trained layers W_1 .. W_L, the one covered
model that ``convtool run`` trains by SGD, ``--batch``; the CLI attaches only the zou-long-gu theory to it).
It sees every model through a *layer view*
(:func:`layer_view`): the layers ``W_1 .. W_N`` in the paper's convention ``x -> W_N phi(... W_1 x)``
(``W_j`` of shape (n_j, n_{j-1})) and their gradients, in the coordinates where the model's step is plain
GD ``W_j - eta_t G_j``. For the two-layer model ``W = W1 W2^T`` the view is ``(W1^T, W2)`` and the pair's
matrix invariant is the local-PL paper's ``D(t) = W1^T W1 - W2^T W2`` (computed by :func:`two_layer_D`,
shared with the local-PL theory through ``Observation.cache``, the key of
:func:`~convtool.numeric.theories.local_pl.observed_imbalance`; in the width-reduced coordinates ``Q^T D Q``,
with the same Frobenius norms and nonzero spectrum, so the reduction stays exact).

Per adjacent pair h = 1 .. N-1 it records, per state t:

* ``B_h = ||W_h||_F^2 - ||W_{h+1}||_F^2`` (Corollary 2.1) and its drift ``B_h(t) - B_h(0)``;
* the per-neuron vector ``b_h = rowsq(W_h) - colsq(W_{h+1})`` (Theorem 2.1, eq. 6) as its max-abs drift
  (two-layer: only with ``record_neurons``, an O(h) cost per step there);
* for a linear activation between W_h and W_{h+1}, ``||D_h(t) - D_h(0)||_F`` with
  ``D_h = W_h W_h^T - W_{h+1}^T W_{h+1}`` (Theorem 2.2), when ``n_h <= dense_max``;
* the layer norm ratio ``||W_h||_F^2 / ||W_{h+1}||_F^2`` (Section 4, Fig. 2b/2d);

and per step the error of the exact one-step GD drift (derived: the first-order terms cancel by the proof's
identity (7), a pointwise identity of the gradient)::

    B_h(t+1) - B_h(t)   = eta_t^2 (||G_h||_F^2 - ||G_{h+1}||_F^2)
    b_h(t+1) - b_h(t)   = eta_t^2 (rowsq(G_h) - colsq(G_{h+1}))
    D_h(t+1) - D_h(t)   = eta_t^2 (G_h G_h^T - G_{h+1}^T G_{h+1})     (phi_h linear)

(the notes' Sec. 3.2 forms; verified here by derivation and by tests/test_balanced_identities.py). ReLU at 0
uses the subgradient ``phi'(0) = 0`` of :mod:`convtool.numeric.feedforward` (leaky ReLU: ``phi'(0) = a``);
the identity needs only ``phi(z) = phi'(z) z``, which holds at z = 0 for every choice (footnote 10), so it
holds exactly for the computed gradient, kinks included (tested with pre-activations exactly 0).

Checks (``applies``/``held`` per step, "held" with a rounding band, see :func:`_tolerance`):

* ``*_step``: the one-step identity to round-off;
* ``*_cum``: ``|drift(t)| <= sum_{s<t} eta_s^2 ||grad L(s)||^2`` (drift of each invariant; for D in
  Frobenius norm, since ``||G G^T - H^T H||_F <= ||G||_F^2 + ||H||_F^2``);
* ``*_descent``: ``|drift(t)| <= 2 max_{s<t} eta_s (L(0) - L(t))``, applies while the descent inequality
  ``L(s+1) <= L(s) - eta_s ||grad L(s)||^2 / 2`` held at every step so far (then
  ``eta_s^2 ||grad||^2 <= 2 eta_s (L(s) - L(s+1))``).

SGD (``run(..., stochastic=...)``): the identities are checked with the gradients the update used
(``Observation.update_grads``), never the recorded full gradient. They hold for any update ``W_h - eta g_h``
with ``g`` the parameter gradient, at the current weights, of *any* loss of the network's output: the proof of
Theorem 2.1 (Section 2.3) first reduces to the loss of one sample, and the cancellation of the first-order
terms (eq. 7) is the chain rule through the homogeneous layer, whatever the output cotangent. A minibatch loss
``(n/b) sum_{i in B} l_i`` is such a loss, so per minibatch: the one-step identities (``*_step``) hold to
round-off with the minibatch gradients (and fail with the full ones, tests/test_balanced_sgd.py), and the
cumulative bound ``*_cum`` holds with ``sum eta_s^2 ||g_s||^2`` of the update gradients (what
``bal_cum_bound`` then sums; with a cadence ``every > 1`` those norms are not recorded at every step and the
check says so). The descent bound ``*_descent`` changes meaning: it rests on the descent inequality of the full
gradient (``eta_s^2 ||grad L(s)||^2 <= 2 eta_s (L(s) - L(s+1))``), which says nothing about ``||g_s||``; under
SGD it is not applicable, in words. Matrix factorization's Lemma 3.1 / eq. 13 checks are GD statements (the
two-layer entry point runs GD).

Costs: ``B_h`` needs the layers' and gradients' squared norms (one pass each; B's records are formed after the
loop); ``b_h`` the row and column sums; ``D_h`` two n_h x n_h Grams per step (not formed for
``n_h > dense_max``, said in words). On the two-layer model (without ``record_neurons``) every record comes
from arrays the engine computed anyway, referenced per step and evaluated in batches of up to 64 states
(:class:`_DBatch`: the squared norms of the layers and of the update gradients, ``P_t`` as one batched
product, D(t) being the local-PL theory's cached one), so that the per-step cost is a few list operations
(bench/bench_balanced.py). ``every > 1`` records only the pairs (t, t+1) with t % every == 0 (the
CLI uses it for the deep linear model above width 512, where a pass over the weights costs about a step).

Where an invariant does not apply the check carries ``not_applicable`` with the reason and nothing is
recorded under its key: a model with skip connections (``model.skip_connections``; the linear ResNet model
``B (I + W_L) ... (I + W_1) A``), a non-homogeneous
activation (``Activation.homogeneous`` False), D_h across a nonlinear activation, a model without a layer
structure known here.
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError
from convtool.numeric.theories.base import EPS, RTOL_HELD, Check, Observation, RunContext, Theory
from convtool.numeric.theories.local_pl import IMBALANCE_CACHE_KEY

__all__ = ["Balanced", "layer_view", "two_layer_D", "LayerView", "DENSE_MAX", "pair_invariants",
           "predicted_drift"]

#: largest n_h for which the n_h x n_h matrix invariant D_h is formed every step (its cost is n_h^2 (n_{h-1} +
#: n_{h+1}) per step; the deep linear model's default 2000-wide hidden layers would cost far more than a step)
DENSE_MAX = 512


def _T(A):
    return np.swapaxes(A, -1, -2)


def _fro_sq(A):
    """``||A||_F^2`` of each (R, p, q) matrix, as one batched dot product (a matmul: less call overhead per step
    than einsum on the small arrays of the two-layer model; the ellipsis einsum is several times slower)."""
    if A.shape[0] == 1:  # one seed: a single dot product
        return np.array([np.vdot(A, A)])
    a = A.reshape(A.shape[0], 1, -1)
    return np.matmul(a, np.swapaxes(a, -1, -2))[:, 0, 0]


def two_layer_D(model, state, cache: dict | None = None) -> np.ndarray:
    """The two-layer imbalance ``Q^T D Q`` (R, r, r), ``D = W1^T W1 - W2^T W2`` (the local-PL paper's D(t)),
    from ``model.imbalance`` (the same computation as :class:`~convtool.numeric.theories.local_pl.LocalPL`);
    read from / stored in ``cache[IMBALANCE_CACHE_KEY]``, the key of
    :func:`~convtool.numeric.theories.local_pl.observed_imbalance`, so that one computation per step serves both
    theories."""
    if cache is not None:
        D = cache.get(IMBALANCE_CACHE_KEY)
        if D is None:
            D = cache[IMBALANCE_CACHE_KEY] = model.imbalance(state)
        return D
    return model.imbalance(state)


class LayerView:
    """How the balancedness theory sees a model (module docstring): ``layers(state)``, ``grads(state, g)``,
    ``linear[h]`` (activation between W_{h+1} and W_{h+2}, 0-based pair h), ``reason`` (None, or why no
    invariant applies), ``subgradient`` (in words)."""

    name = "generic"
    reason: str | None = None
    subgradient = ""

    def __init__(self, model):
        self.model = model

    #: the layers are ``scales[j] * layers(state)[j]`` and the gradients ``gscales[j] * grads(...)[j]`` (the deep
    #: linear model keeps V_j = W_j / sqrt(n_j): no rescaled copy of a wide layer is formed)
    scales: tuple = ()
    gscales: tuple = ()

    def layers(self, state) -> list:
        return list(state)

    def grads(self, state, grads) -> list:
        return list(grads)

    def D(self, h, Ws, cache=None, state=None):
        """``D_h`` (R, n_h, n_h) (0-based pair h)."""
        a, b = (self.scales[h] ** 2, self.scales[h + 1] ** 2) if self.scales else (1.0, 1.0)
        return a * (Ws[h] @ _T(Ws[h])) - b * (_T(Ws[h + 1]) @ Ws[h + 1])

    def D_pred(self, h, Gs, grads=None):
        a, b = (self.gscales[h] ** 2, self.gscales[h + 1] ** 2) if self.gscales else (1.0, 1.0)
        return a * (Gs[h] @ _T(Gs[h])) - b * (_T(Gs[h + 1]) @ Gs[h + 1])

    def neurons(self, h, sq_rows, sq_cols):
        """Per-neuron vector from the row sums of squares of W_h and the column sums of W_{h+1}."""
        return sq_rows[h] - sq_cols[h + 1]

    def width(self, h) -> int:
        return int(self.widths[h + 1])

    def inner(self, h) -> int:
        return int(max(self.widths[h], self.widths[h + 2]))


class _FeedForwardView(LayerView):
    name = "feed-forward"

    def __init__(self, model):
        super().__init__(model)
        net = getattr(model, "net", model)
        act = net.act
        self.widths = tuple(net.widths)
        self.N = net.N
        self.subgradient = act.subgradient
        self.activation = act.name
        if not act.homogeneous:
            self.reason = (f"activation {act.name} is not positively homogeneous (Theorem 2.1 needs "
                           f"phi(z) = phi'(z) z)")
        self.linear = [bool(act.linear)] * max(self.N - 1, 0)


class _DeepLinearView(LayerView):
    name = "deep-linear"
    activation = "linear"

    def __init__(self, model):
        super().__init__(model)
        self.widths = tuple(model.widths)
        self.N = model.N
        self.linear = [True] * (self.N - 1)
        # W_j = sqrt(n_j) V_j and dL/dW_j = g_j / sqrt(n_j) (eq. 9): the state and the model's gradients, scaled
        self.scales = tuple(np.sqrt(float(n)) for n in self.widths[1:])
        self.gscales = tuple(1.0 / c for c in self.scales)


class _TwoLayerView(LayerView):
    """``(W1^T, W2)`` in the model's (possibly reduced) coordinates ``(A, B) = (W1 Q, W2 Q)``."""

    name = "two-layer"
    activation = "linear"

    def __init__(self, model):
        super().__init__(model)
        self.N = 2
        self.widths = (model.n, model.k, model.m)
        self.linear = [True]
        self.h_full = model.h

    def layers(self, state):
        A, B = state
        return [_T(A), B]

    def grads(self, state, grads):
        gA, gB = grads
        return [_T(gA), gB]

    #: D and its prediction read the state and gradients as they are (no transposed views)
    direct = True

    def D(self, h, Ws, cache=None, state=None):
        return two_layer_D(self.model, state if state is not None else (_T(Ws[0]), Ws[1]), cache)

    def D_pred(self, h, Gs, grads=None):
        """``Q^T (gA^T gA - gB^T gB) Q`` of the gradients ``grads = (gA, gB)`` ([nb,] R, n|m, k), a stack of steps
        included (one batched product; the transposed factor copied to contiguous memory first, several times
        faster than numpy's batched matmul on a transposed view)."""
        gA, gB = grads if grads is not None else (_T(Gs[0]), Gs[1])
        if not self.model.reduced:
            gA, gB = gA @ self.model.Q, gB @ self.model.Q
        return np.ascontiguousarray(_T(gA)) @ gA - np.ascontiguousarray(_T(gB)) @ gB

    def neurons(self, h, sq_rows, sq_cols):
        return sq_rows[0] - sq_cols[1]  # full width h: the reduced case goes through neurons_reduced

    def width(self, h) -> int:
        return int(self.h_full)


class _ChainView(LayerView):
    """The linear ResNet model's no-skip baseline ``B W_L ... W_1 A`` (A, B fixed): the trained layers W_1 .. W_L
    (m x m, the state's ``W[:, l - 1]``), linear between them; no pair with the fixed A, B."""

    name = "deep linear (no skip)"
    activation = "linear"

    def __init__(self, model):
        super().__init__(model)
        self.N = model.L
        self.widths = (model.width,) * (model.L + 1)
        self.linear = [True] * (model.L - 1)

    def layers(self, state):
        return [state[0][:, l] for l in range(self.N)]

    def grads(self, state, grads):
        return [grads[0][:, l] for l in range(self.N)]


def layer_view(model) -> LayerView:
    """The :class:`LayerView` of a model: two-layer, deep linear, feed-forward (mlp, shallow); a model with
    ``skip_connections`` or an unknown structure gets a view whose ``reason`` says why nothing applies."""
    from convtool.numeric.deep_linear import DeepLinear
    from convtool.numeric.feedforward import FeedForward
    from convtool.numeric.models import TwoLayerLinear
    from convtool.numeric.resnet import LinearResNet

    if isinstance(model, LinearResNet) and not model.skip:
        return _ChainView(model)
    if getattr(model, "skip_connections", False) or isinstance(model, LinearResNet):
        v = LayerView(model)
        v.reason = ("skip connections: the residual branch x + f(x) is not a homogeneous layer map, so "
                    "Theorems 2.1-2.2 do not apply")
        v.N, v.widths, v.linear = 0, (), []
        return v
    if isinstance(model, TwoLayerLinear):
        return _TwoLayerView(model)
    if isinstance(model, DeepLinear):
        return _DeepLinearView(model)
    if isinstance(model, FeedForward) or isinstance(getattr(model, "net", None), FeedForward):
        return _FeedForwardView(model)
    v = LayerView(model)
    v.reason = f"model {getattr(model, 'name', type(model).__name__)!r} has no layer structure known to the theory"
    v.N, v.widths, v.linear = 0, (), []
    return v


def pair_invariants(Ws) -> dict:
    """``B``, per-neuron ``b`` and (every pair) ``D`` of layers ``Ws`` (paper convention, batched (R, ...)):
    ``{"B": [(R,)], "b": [(R, n_h)], "D": [(R, n_h, n_h)]}`` (a plain reference for tests and callers)."""
    rows = [np.sum(W * W, axis=-1) for W in Ws]
    cols = [np.sum(W * W, axis=-2) for W in Ws]
    out = {"B": [], "b": [], "D": []}
    for h in range(len(Ws) - 1):
        out["B"].append(rows[h].sum(-1) - rows[h + 1].sum(-1))
        out["b"].append(rows[h] - cols[h + 1])
        out["D"].append(Ws[h] @ _T(Ws[h]) - _T(Ws[h + 1]) @ Ws[h + 1])
    return out


def predicted_drift(Gs, eta) -> dict:
    """The derived one-step drifts ``eta^2 (...)`` of :func:`pair_invariants` from the gradients ``Gs``."""
    e2 = np.asarray(eta, dtype=float) ** 2
    inv = pair_invariants(Gs)
    return {"B": [e2 * x for x in inv["B"]], "b": [e2[..., None] * x for x in inv["b"]],
            "D": [e2[..., None, None] * x for x in inv["D"]]}


def _tolerance(inner: int, S_t, S_t1, P) -> np.ndarray:
    """Rounding band of one observed-vs-predicted comparison (R,): ``4 (inner + 4) eps (S_t + S_{t+1} + P)``,
    S the pair's ``||W_h||_F^2 + ||W_{h+1}||_F^2`` at t and t+1, P the predicted term's ``eta^2 (||G_h||^2 +
    ||G_{h+1}||^2)``. A sum of ``inner`` squares carries a relative error ``inner eps`` (standard dot-product
    bound) and the stored iterate ``fl(W - eta G)`` about ``eps |W|`` per entry; a factor 4 of slack. An
    estimate of the float error, not a proof."""
    return 4.0 * (inner + 4) * EPS * (S_t + S_t1 + P)


class _DBatch:
    """Records evaluated ``size`` states at a time (one batched computation instead of a few small numpy calls per
    step, which dominate the two-layer model's cheap step): the matrix invariant's drift and one-step error, and,
    for the two-layer model (``deferred``), the squared norms of the layers and of the update gradients and the
    predicted term ``P_t = G_h G_h^T - G_{h+1}^T G_{h+1}`` from the stored arrays themselves (the arrays are the
    engine's, referenced, not copied: the model's step, its gradients and a stochastic gradient are new arrays
    every step, :func:`~convtool.numeric.engine.run`).

    ``add_state(t, D_t, state)`` before ``add_step(t, eta_t, P_t or None, grads)``; a pair (t, t+1) is evaluated
    when both states and step t are known: ``||D_{t+1} - D_t - eta_t^2 P_t||_F``, and every state's
    ``||D_t - D_0||_F`` and ``||D_t||_F``. ``arrays(T)`` returns them as (R, T+1) / (R, T) arrays (NaN where not
    recorded)."""

    def __init__(self, R: int, view=None, max_bytes: int = 32 * 2 ** 20):
        self.R, self.view, self.max_bytes = R, view, max_bytes
        self.deferred = view is not None
        self.D0 = None
        self.size = None
        self.buf = []          # [[t, D_t, state or None, eta_t or None, P_t or None, grads or None]]
        self.carry = None      # (t, D_t, eta_t, P_t) of the last evaluated entry, for the pair across batches
        self.chunks = {"state": [], "pair": [], "gfro": []}  # (t indices, values) per batch

    def add_state(self, t, D, state=None):
        if self.size is None:
            self.D0 = D
            per = 8 * (D.size + (sum(2 * a.size for a in state) if state is not None else 0))
            self.size = max(1, min(64, self.max_bytes // max(1, per)))
        if len(self.buf) >= self.size and self.buf[-1][3] is not None:
            self._flush()
        self.buf.append([t, D, state, None, None, None])

    def add_step(self, t, eta, P=None, grads=None):
        if self.buf and self.buf[-1][0] == t:
            self.buf[-1][3:] = [eta, P, grads]

    @staticmethod
    def _norms(stack):
        """``||X||_F^2`` per (entry, seed) of a stack (nb, R, p, q), as (R, nb)."""
        return np.einsum("trij,trij->rt", stack, stack)

    def _flush(self):
        # stacks with the entries first: np.array of a list of arrays is several times faster than np.stack
        buf, R = self.buf, self.R
        if not buf:
            return
        nb = len(buf)
        ts = np.array([b[0] for b in buf])
        Ds = np.array([b[1] for b in buf])                             # (nb, R, k, k)
        dd = (Ds - self.D0).reshape(nb, R, -1)
        fro = ([self._norms(np.array([b[2][j] for b in buf])) for j in range(len(buf[0][2]))]
               if self.deferred else None)
        self.chunks["state"].append((ts, np.sqrt(np.einsum("tri,tri->rt", dd, dd)), np.sqrt(self._norms(Ds)), fro))
        pos = np.flatnonzero([b[3] is not None for b in buf])         # the entries whose step is known
        P = eta = None
        if pos.size:
            eta = np.array([buf[i][3] for i in pos])                   # (ns, R)
            if self.deferred:
                G = [np.array([buf[i][5][j] for i in pos]) for j in range(len(buf[pos[0]][5]))]
                self.chunks["gfro"].append((ts[pos], [self._norms(g) for g in G]))
                P = self.view.D_pred(0, None, G)                          # (ns, R, k, k), one batched product
            else:
                P = np.array([buf[i][4] for i in pos])
            ok = pos[pos + 1 < nb]
            ok = ok[ts[ok + 1] == ts[ok] + 1]                             # the pairs (t, t+1) inside the batch
            if ok.size:
                rows = np.searchsorted(pos, ok)
                self._pairs(ts[ok], Ds[ok + 1], Ds[ok], eta[rows], P[rows])
        c = self.carry                                                    # the pair across the batches
        if c is not None and c[2] is not None and ts[0] == c[0] + 1:
            self._pairs(ts[:1] - 1, Ds[:1], c[1][None], c[2][None], c[3][None])
        last = pos.size and pos[-1] == nb - 1
        self.carry = (int(ts[-1]), buf[-1][1], eta[-1] if last else None, P[-1] if last else None)
        self.buf = []

    def _pairs(self, t, Dn, Dp, eta, P):
        """``||D_{t+1} - D_t - eta_t^2 P_t||_F`` and ``||eta_t^2 P_t||_F`` of stacked pairs (np, R, k, k)."""
        PD = (eta * eta)[:, :, None, None] * P
        res = (Dn - Dp - PD).reshape(len(t), self.R, -1)
        pd = PD.reshape(len(t), self.R, -1)
        self.chunks["pair"].append((t, np.sqrt(np.einsum("tri,tri->rt", res, res)),
                                    np.sqrt(np.einsum("tri,tri->rt", pd, pd))))

    def arrays(self, T: int) -> dict:
        """``drift``, ``dnorm`` (R, T+1); ``err``, ``pnorm`` (R, T); deferred: ``fro`` (R, T+1), ``gfro`` (R, T)
        lists, one per layer."""
        self._flush()
        R, N = self.R, (self.view.N if self.deferred else 0)
        out = {k: np.full((R, n), np.nan) for k, n in (("drift", T + 1), ("dnorm", T + 1), ("err", T), ("pnorm", T))}
        out["fro"] = [np.full((R, T + 1), np.nan) for _ in range(N)]
        out["gfro"] = [np.full((R, T), np.nan) for _ in range(N)]
        for ts, drift, dnorm, fro in self.chunks["state"]:
            k = ts <= T
            out["drift"][:, ts[k]], out["dnorm"][:, ts[k]] = drift[:, k], dnorm[:, k]
            for a, f in zip(out["fro"], fro or ()):
                a[:, ts[k]] = f[:, k]
        for ts, err, pn in self.chunks["pair"]:
            k = ts < T
            out["err"][:, ts[k]], out["pnorm"][:, ts[k]] = err[:, k], pn[:, k]
        for ts, g in self.chunks["gfro"]:
            k = ts < T
            for a, f in zip(out["gfro"], g):
                a[:, ts[k]] = f[:, k]
        return out


class Balanced(Theory):
    """Du, Hu & Lee's invariants (Theorem 2.1, Corollary 2.1, Theorem 2.2) and their GD drift (module docstring).

    Parameters
    ----------
    record_neurons : bool or None
        Record the per-neuron vector b_h; default: yes, except for the two-layer model (``--record neurons``).
    dense_max : int
        Largest n_h for which D_h is formed every step (:data:`DENSE_MAX`).
    eps : float, optional
        Theorem 3.1's accuracy for Lemma 3.1's checks when the schedule is not ``duhulee`` (which has its own).
    every : int
        Record the states t with ``t % every`` in (0, 1) only (every step for 1): the one-step identity is then
        checked on the pairs (t, t+1) with ``t % every == 0`` and the drift bounds at the recorded states
        (NaN in between). For models whose step costs about as much as a pass over the weights (the deep
        linear model at width 2000), so that recording stays a small fraction of the run.
    """

    key = "du-hu-lee"
    reference = "Du, Hu & Lee (NeurIPS 2018), Theorem 2.1, Corollary 2.1, Theorem 2.2"

    def __init__(self, record_neurons: bool | None = None, dense_max: int = DENSE_MAX, eps: float | None = None,
                 every: int = 1):
        if int(dense_max) != dense_max or dense_max < 0:
            raise InputError(f"du-hu-lee: dense_max must be a non-negative integer, got {dense_max!r}")
        if int(every) != every or every < 1:
            raise InputError(f"du-hu-lee: every must be a positive integer, got {every!r}")
        self.every = int(every)
        if eps is not None and not (np.isfinite(eps) and eps > 0):
            raise InputError(f"du-hu-lee: eps must be a positive number, got {eps!r}")
        self.record_neurons, self.dense_max, self.eps = record_neurons, int(dense_max), eps
        self.mf = None
        self.checks = ()
        self.state_keys, self.step_keys = (), ()
        self.invariants: list = []

    # -- before the loop ----------------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> dict:
        from convtool.numeric.models import TwoLayerLinear

        model = ctx.model
        self.view = v = layer_view(model)
        self.R = ctx.R
        two = isinstance(model, TwoLayerLinear)
        self.neurons_on = (not two) if self.record_neurons is None else bool(self.record_neurons)
        self.invariants = []  # (key, kind, pair h 1-based, name, reference, not_applicable)
        npairs = max(v.N - 1, 0)
        if v.reason is not None or npairs == 0:
            why = v.reason or f"N = {v.N} layer(s): no adjacent layer pair"
            self.invariants.append(dict(key="invariants", kind="all", pair=None, name="B_h, b_h, D_h",
                                        reference="Theorems 2.1, 2.2, Corollary 2.1", not_applicable=why))
        else:
            for h in range(npairs):
                j = h + 1
                self.invariants.append(dict(key=f"B{j}", kind="B", pair=j, reference="Corollary 2.1",
                                            name=f"B_{j} = ||W_{j}||_F^2 - ||W_{j + 1}||_F^2", not_applicable=None))
                nb = None if self.neurons_on else "not recorded for the two-layer model without --record neurons " \
                                                  "(an O(h) cost per step)"
                self.invariants.append(dict(key=f"b{j}", kind="b", pair=j, reference="Theorem 2.1, eq. (6)",
                                            name=f"b_{j} = rowsq(W_{j}) - colsq(W_{j + 1}) (max |drift|)",
                                            not_applicable=nb))
                if not v.linear[h]:
                    nd = (f"the activation {v.activation} between W_{j} and W_{j + 1} is not linear "
                          f"(Theorem 2.2 needs phi_{j}(z) = z)")
                elif not two and v.width(h) > self.dense_max:
                    nd = (f"not recorded: n_{j} = {v.width(h)} > {self.dense_max} (forming the n_{j} x n_{j} matrix "
                          f"every step costs more than the step); B and b are recorded")
                else:
                    nd = None
                self.invariants.append(dict(key=f"D{j}", kind="D", pair=j, reference="Theorem 2.2",
                                            name=f"D_{j} = W_{j} W_{j}^T - W_{j + 1}^T W_{j + 1} (||.||_F drift)",
                                            not_applicable=nd))
        live = [iv for iv in self.invariants if iv["not_applicable"] is None]
        self.live = live
        self.sgd = ctx.stochastic is not None
        sgd_na = {"step": None, "cum": None, "descent": None}
        if self.sgd:  # module docstring, "SGD": which statements hold per minibatch
            sgd_na["descent"] = ("SGD run: the descent argument bounds eta_s^2 ||grad L(s)||^2 of the full gradient, "
                                 "but the drift is driven by the update's (minibatch) gradient")
            if self.every > 1:
                sgd_na["cum"] = (f"SGD run recorded every {self.every} steps: the update gradients' norms, which "
                                 f"the cumulative bound needs at every step, are not recorded in between")
        gname = "g_s" if self.sgd else "grad L(s)"
        checks, state_keys, step_keys = [], [], []
        for iv in self.invariants:
            k, na = iv["key"], iv["not_applicable"]
            for what, desc, ref in (("step", f"one-step {'SGD' if self.sgd else 'GD'} drift = eta_t^2 (...) of the "
                                             f"update's gradients to round-off", "derived from eq. (7)"),
                                    ("cum", f"|drift(t)| <= sum eta_s^2 ||{gname}||^2"
                                            + (" (g_s the update's gradient)" if self.sgd else ""),
                                     "derived, notes Sec. 3.2"),
                                    ("descent", "|drift(t)| <= 2 max eta_s (L(0) - L(t)) while descent held",
                                     "derived, eq. (14)-type descent")):
                checks.append(Check(f"balanced_{k}_{what}", f"balanced_{k}_{what}_applies", f"balanced_{k}_{what}_held",
                                    f"{iv['reference']}; {ref}", f"{iv['name']}: {desc}", na or sgd_na[what]))
            if na is None and iv["kind"] == "b":  # B's records are formed after the loop from bal_fro, bal_gfro;
                state_keys += [f"bal_{k}_drift"]    # D's in batches (_DBatch)
                step_keys += [f"bal_{k}_step_err", f"bal_{k}_step_pred"]
        self._vec_live = [(iv["pair"] - 1, iv["kind"]) for iv in live if iv["kind"] != "B"]
        # the two-layer model without the per-neuron vector: every record from arrays referenced per step and
        # evaluated in batches of states (_DBatch); the per-step cost is then a few list operations
        self._defer = bool(live) and isinstance(v, _TwoLayerView) and self._vec_live == [(0, "D")]
        self._dbatch = {h: _DBatch(ctx.R, view=v if self._defer else None)
                        for h, kind in self._vec_live if kind == "D"}
        if live and not self._defer:
            state_keys += [f"bal_fro{j}" for j in range(1, v.N + 1)]
            step_keys += [f"bal_gfro{j}" for j in range(1, v.N + 1)]
        env = {}
        self.mf = None
        if two and getattr(ctx.loss, "name", "") == "factorization":
            env = self._mf_setup(ctx, checks, state_keys, step_keys)
        elif ctx.schedule.name in ("duhulee", "rank1"):
            raise InputError(f"schedule {ctx.schedule.name!r} is Du, Hu & Lee's step for matrix factorization: "
                             f"the two-layer model with --loss factorization")
        self.checks = tuple(checks)
        self.state_keys, self.step_keys = tuple(state_keys), tuple(step_keys)
        self._first = None
        self._prev = None
        self._r1_prev = None
        return env

    # -- matrix factorization (Section 3; convtool.numeric.factorization) ---------------------------
    def _mf_setup(self, ctx, checks, state_keys, step_keys) -> dict:
        from convtool.numeric import factorization as fx

        model, R, sched = ctx.model, ctx.R, ctx.schedule
        M = fx.mf_target(ctx.loss, R)
        U0, V0 = model.W1_0, model.W2_0
        r = int(model.h)
        Mf = np.sqrt(_fro_sq(M))
        D0 = np.sqrt(_fro_sq(np.swapaxes(U0, -1, -2) @ U0 - np.swapaxes(V0, -1, -2) @ V0))
        ranks = [fx._rank(x) for x in M]
        eps = getattr(sched, "eps", None) if sched.name == "duhulee" else None
        eps = self.eps if eps is None else eps
        mf = {"M": M, "r": r, "M_fro": Mf, "D0": D0, "eps": eps, "ranks": ranks, "schedule": sched.name}
        env = {"M_fro": Mf, "r_rank": np.full(R, float(r))}
        if eps is None:
            mf["reason"] = "no eps given (--eps): Theorem 3.1's accuracy"
            mf["pre"] = []
        else:
            mf["pre"] = [fx.mf_preconditions(M[i], U0[i], V0[i], eps, r) for i in range(R)]
            bad = [c for c in mf["pre"][0] if not c["ok"]]
            if sched.name != "duhulee":
                mf["reason"] = f"Theorem 3.1 is for its own step schedule duhulee, not {sched.name}"
            elif bad:
                mf["reason"] = "precondition fails: " + "; ".join(f"{c['name']} ({c['value']})" for c in bad)
            else:
                mf["reason"] = None
        if sched.name == "duhulee":
            if eps is None:
                raise InputError("schedule duhulee needs --eps (Theorem 3.1's accuracy, 0 < eps < ||M*||_F)")
            delta = getattr(sched, "delta", None)
            env["dhl_c_eta"] = np.broadcast_to(fx.duhulee_c_eta(Mf, r, eps, delta, D0), (R,)).astype(float)
            mf["c_eta"] = env["dhl_c_eta"]
            if delta is not None and mf.get("reason") is None:
                mf["reason_note"] = "footnote-11 family with the derived c_eta (labelled derived)"
        rank1 = r == 1 and all(k == 1 for k in ranks)
        if sched.name == "rank1" and not rank1:
            raise InputError(f"schedule rank1 (Theorem 3.2) needs a rank-1 target and width h = 1; got rank(M*) = "
                             f"{max(ranks)}, h = {r}")
        mf["rank1"] = rank1
        if rank1:
            P, S, Qt = np.linalg.svd(M)
            us, vs, s1 = P[:, :, 0], Qt[:, 0, :], S[:, 0]
            a0 = np.einsum("ri,ri->r", U0[:, :, 0], us)
            flip = np.where(a0 < 0, -1.0, 1.0)  # footnote 12: flip u*, v* together so that alpha_0 >= 0
            mf.update(us=us * flip[:, None], vs=vs * flip[:, None], sigma1=s1)
            env["sigma_1"] = s1
            if sched.name == "rank1":
                env["dhl_eta_rank1"] = _ev_reg("eta_rank1", c_step=float(sched.c_step), sigma_1=s1)
            state_keys += ["r1_alpha", "r1_beta", "r1_alpha_perp", "r1_beta_perp", "r1_h", "r1_xi"]
            step_keys += ["r1_rec_err"]
            checks.append(Check("dhl_rank1_recurrence", "dhl_rank1_recurrence_applies", "dhl_rank1_recurrence_held",
                                "Appendix C, eqs. (23), (24)", "the exact recurrences match the iterates to round-off"))
        na = mf.get("reason")
        for key, ref, desc, n_a in (
                ("dhl_L31_i", "Lemma 3.1 (i)", "||U_t^T U_t - V_t^T V_t||_F <= eps", na),
                ("dhl_L31_ii", "Lemma 3.1 (ii)", "f(t+1) <= f(t), f(0) <= 2 ||M*||_F^2", na),
                ("dhl_L31_iii", "Lemma 3.1 (iii)", "||U_t||_F^2, ||V_t||_F^2 <= 5 sqrt(r) ||M*||_F", na),
                ("dhl_eq13_worst", "Claim B.1, eq. (13)", "||D_t||_F <= ||D_0||_F + 40 sqrt(r) ||M*||_F^3 sum eta^2", na),
                ("dhl_eq13_data", "Claim B.1, eq. (13) (data-dependent)",
                 "||D_t||_F <= ||D_0||_F + sum 2 eta_s^2 (||U_s||^2 + ||V_s||^2) f_s", None)):
            checks.append(Check(key, key + "_applies", key + "_held", ref, desc, n_a))
        if not self._defer:  # else formed after the loop from the batched records
            state_keys += ["mf_U_sq", "mf_V_sq", "mf_D_fro"]
        self.mf = mf
        return env

    def _mf_observe(self, obs, m, vals, step):
        vals["mf_U_sq"], vals["mf_V_sq"] = m["fro"][0], m["fro"][1]
        vals["mf_D_fro"] = np.sqrt(_fro_sq(m["D"][0]))
        self._last_state = obs.state
        if self.mf["rank1"]:
            self._r1_observe(obs, vals, step)

    def _r1_observe(self, obs, vals, step):
        """Appendix C's rank-1 state of the iterate and the recurrences' (23)-(24) prediction from the last."""
        mf = self.mf
        U, V = self.view.model.full_weights(obs.state)
        from convtool.numeric.factorization import rank1_recurrence, rank1_state

        s = rank1_state(U[:, :, 0], V[:, :, 0], mf["us"], mf["vs"], mf["sigma1"])
        for k, v in s.items():
            vals[f"r1_{k}"] = v
        if self._r1_prev is not None:
            ps, eta, nu, nv = self._r1_prev
            pred = rank1_recurrence(ps, eta, mf["sigma1"])
            scale = {"alpha": nu, "beta": nv, "alpha_perp": nu, "beta_perp": nv, "h": nu * nv + mf["sigma1"],
                     "xi": nu ** 2 + nv ** 2}
            err = np.zeros(self.R)
            for k in pred:
                with np.errstate(divide="ignore", invalid="ignore"):
                    e = np.abs(pred[k] - s[k]) / np.where(scale[k] > 0, scale[k], 1.0)
                err = np.maximum(err, e)
            step["r1_rec_err"] = err
        self._r1_s = (s, np.linalg.norm(U[:, :, 0], axis=-1), np.linalg.norm(V[:, :, 0], axis=-1))

    def _mf_finalize(self, rec, nsteps, steps, eta):
        mf = self.mf
        R, T = steps.shape
        held = 1 + RTOL_HELD
        states = np.arange(T + 1)[None, :] <= nsteps[:, None]
        f = rec["loss"]
        U2, V2, Df = rec["mf_U_sq"], rec["mf_V_sq"], rec["mf_D_fro"]
        e = np.where(steps, eta, 0.0)
        z = np.zeros((R, 1))
        rec["mf_tau"] = np.where(states, np.concatenate([z, np.cumsum(e, axis=1)], axis=1), np.nan)
        ssq = np.concatenate([z, np.cumsum(e ** 2, axis=1)], axis=1)
        inc = 2 * e ** 2 * np.where(steps, (U2[:, :T] + V2[:, :T]) * f[:, :T], 0.0)
        data = mf["D0"][:, None] + np.concatenate([z, np.cumsum(inc, axis=1)], axis=1)
        rec["mf_eq13_data_bound"] = np.where(states, data, np.nan)
        worst = _ev_reg("bound_D_eq13", D0_fro=mf["D0"][:, None], r_rank=float(mf["r"]), M_fro=mf["M_fro"][:, None],
                        sum_eta_sq=ssq)
        rec["mf_eq13_worst_bound"] = np.where(states, worst, np.nan)
        band = 64 * EPS * (U2 + V2) * (mf["r"] + 4)
        Dn = Df[:, 1:]
        rec["dhl_eq13_data_applies"] = steps.copy()
        rec["dhl_eq13_data_held"] = steps & (Dn <= data[:, 1:] * held + band[:, 1:])
        app = steps & (mf.get("reason") is None)
        rec["dhl_eq13_worst_applies"] = app
        rec["dhl_eq13_worst_held"] = steps & (Dn <= worst[:, 1:] * held + band[:, 1:])
        eps = mf["eps"]
        for key in ("dhl_L31_i", "dhl_L31_ii", "dhl_L31_iii"):
            rec[key + "_applies"] = app.copy()
        if eps is not None:
            rec["dhl_L31_i_held"] = steps & (Dn <= eps * held + band[:, 1:])
        else:
            rec["dhl_L31_i_held"] = np.zeros((R, T), dtype=bool)
        f0ok = f[:, :1] <= _ev_reg("bound_f0_L31", M_fro=mf["M_fro"][:, None]) * held
        rec["dhl_L31_ii_held"] = steps & (f[:, 1:] <= f[:, :T] * held + 64 * EPS * f[:, :T]) & f0ok
        b3 = _ev_reg("bound_norm_L31", r_rank=float(mf["r"]), M_fro=mf["M_fro"][:, None])
        rec["dhl_L31_iii_held"] = steps & (np.maximum(U2, V2)[:, 1:] <= b3 * held)
        if mf["rank1"]:
            rec["dhl_rank1_recurrence_applies"] = steps.copy()
            rec["dhl_rank1_recurrence_held"] = steps & (rec["r1_rec_err"] <= 1e-10)
        self._mf_nsteps = nsteps

    def _mf_summary(self, result) -> dict:
        from convtool.numeric import factorization as fx

        mf = self.mf
        a = result.arrays
        t0 = int(result.steps[0])
        out = {"not_applicable": mf.get("reason"), "preconditions": mf["pre"][0] if mf["pre"] else [],
               "eps": mf["eps"], "r": mf["r"], "M_fro": float(mf["M_fro"][0]), "schedule": mf["schedule"],
               "tau_T": float(a["mf_tau"][0, t0]), "eq13_data_bound": float(a["mf_eq13_data_bound"][0, t0]),
               "eq13_worst_bound": float(a["mf_eq13_worst_bound"][0, t0]),
               "D_fro_max": _nanmax(a["mf_D_fro"][0]), "U_sq_max": _nanmax(a["mf_U_sq"][0]),
               "V_sq_max": _nanmax(a["mf_V_sq"][0])}
        if "c_eta" in mf:
            out["c_eta"] = float(mf["c_eta"][0])
        if mf.get("reason_note"):
            out["note"] = mf["reason_note"]
        if mf["schedule"] == "duhulee":
            out["tau_T_note"] = ("eta_t ~ 1/t: convergence needs tau of order ln(sqrt(sigma_r)/init scale)/sigma_r, "
                                 "i.e. about exp(tau/eta_0) steps (notes Sec. 4.3)")
        viol = self.violations(a)
        claims = []
        for key, name, col in (("dhl_L31_i", "Lemma 3.1 (i): ||D_t||_F <= eps", "mf_D_fro"),
                               ("dhl_L31_ii", "Lemma 3.1 (ii): f monotone, f_0 <= 2||M*||_F^2", "loss"),
                               ("dhl_L31_iii", "Lemma 3.1 (iii): ||U_t||^2, ||V_t||^2 <= 5 sqrt(r) ||M*||_F", None),
                               ("dhl_eq13_worst", "eq. 13 worst-case bound on ||D_t||_F", "mf_D_fro"),
                               ("dhl_eq13_data", "eq. 13 data-dependent bound on ||D_t||_F", "mf_D_fro")):
            c = next(ch for ch in self.checks if ch.key == key)
            if c.not_applicable:
                held = "not applicable: " + c.not_applicable
            else:
                n, app = viol[key], viol[f"{key}_steps_applicable"]
                held = f"{'yes' if n == 0 else 'NO'} ({app - n}/{app} steps)"
            mx = _nanmax(np.maximum(a["mf_U_sq"][0], a["mf_V_sq"][0])) if col is None else _nanmax(a[col][0])
            claims.append({"name": name, "max": mx, "held": held, "key": key})
        out["claims"] = claims
        U, V = self.view.model.full_weights(self._last_state)
        M = mf["M"][0]
        dist, _, _ = fx.procrustes(U[0], V[0], M, max(mf["ranks"][0], 1))
        out["procrustes_distance"] = dist
        out["procrustes_distance_note"] = "min over orthogonal R of ||(U; V) - (U*; V*) R||_F at the end"
        gn = float(np.sqrt(a["grad_sq"][0, t0]))
        if mf["eps"] is not None:
            cert = fx.saddle_certificate(U[0], V[0], M, mf["eps"], gn, 1e-8 * float(mf["M_fro"][0]) ** 1.5)
            out["saddle_note"] = cert["note"]
            if "hessian_form" in cert:
                out["saddle_hessian_form"], out["saddle_bound"] = cert["hessian_form"], cert["bound"]
        if mf["rank1"]:
            traj = {k: a[f"r1_{k}"][0, : t0 + 1] for k in ("alpha", "beta", "alpha_perp", "beta_perp", "h", "xi")}
            s1 = float(mf["sigma1"][0])
            c_step = float(a["eta"][0, 0] * s1) if a["eta"].size else None
            r1 = {"sigma_1": s1, "schedule": mf["schedule"]}
            if c_step is not None:
                r1.update(fx.rank1_summary(traj, a["eta"][0], s1, c_step, a["loss"][0, : t0 + 1]))
                r1["c_step"] = c_step
            d = max(U.shape[1], V.shape[1])
            U0, V0 = result.state_0
            std = float(np.sqrt((np.sum(U0[0] ** 2) + np.sum(V0[0] ** 2)) / (U0.shape[1] + V0.shape[1])))
            c_init = std * np.sqrt(d / s1)
            r1["c_init_empirical"] = c_init
            r1["init_conditions"] = fx.rank1_init_conditions({k: v[0] for k, v in traj.items()}, s1, d, c_init)
            r1["recurrence_max_err"] = _nanmax(a["r1_rec_err"][0]) if a["r1_rec_err"].size else None
            if mf["schedule"] != "rank1":
                r1["note"] = "Theorem 3.2 is for the constant step c_step/sigma_1 (schedule rank1)"
            out["rank1"] = r1
        return out

    # -- in the loop --------------------------------------------------------------------------------
    def _measure(self, obs: Observation) -> dict:
        """Squared Frobenius norms of the layers; per-neuron vectors and D_h where recorded."""
        v = self.view
        sc = v.scales or (1.0,) * v.N
        rows = cols = None
        if self.neurons_on:
            Ws = v.layers(obs.state)
            rows = [c * c * np.einsum("rij,rij->ri", W, W) for W, c in zip(Ws, sc)]
            cols = [c * c * np.einsum("rij,rij->rj", W, W) for W, c in zip(Ws, sc)]
            fro = [r.sum(-1) for r in rows]
        else:  # ||W_j||_F^2 of the state arrays themselves (a transpose does not change it)
            Ws = None if getattr(v, "direct", False) else v.layers(obs.state)
            fro = [_fro_sq(W) if c == 1.0 else c * c * _fro_sq(W) for W, c in zip(Ws or obs.state, sc)]
        m = {"fro": fro, "b": {}, "D": {}}
        for h, kind in self._vec_live:
            if kind == "b":
                m["b"][h] = self._neurons(h, Ws, rows, cols, obs.cache, obs.state)
            else:
                m["D"][h] = v.D(h, Ws, obs.cache, obs.state)
        return m

    def _neurons(self, h, Ws, rows, cols, cache, state):
        v = self.view
        if isinstance(v, _TwoLayerView) and v.model.reduced:
            Q = v.model.Q                                     # (R, h, k): b_i = q_i^T (A^T A - B^T B) q_i
            return np.sum((Q @ v.D(h, Ws, cache, state)) * Q, axis=-1)
        return v.neurons(h, rows, cols)

    def _grad_terms(self, obs: Observation, grads) -> dict:
        v = self.view
        sc = v.gscales or (1.0,) * v.N
        rows = cols = None
        if self.neurons_on:
            Gs = v.grads(obs.state, grads)
            rows = [c * c * np.einsum("rij,rij->ri", G, G) for G, c in zip(Gs, sc)]
            cols = [c * c * np.einsum("rij,rij->rj", G, G) for G, c in zip(Gs, sc)]
            fro = [r.sum(-1) for r in rows]
        else:
            Gs = None if getattr(v, "direct", False) else v.grads(obs.state, grads)
            fro = [_fro_sq(G) if c == 1.0 else c * c * _fro_sq(G) for G, c in zip(Gs or grads, sc)]
        out = {"fro": fro, "b": {}, "D": {}}
        for h, kind in self._vec_live:
            if kind == "b":
                if isinstance(v, _TwoLayerView) and v.model.reduced:
                    Q = v.model.Q
                    out["b"][h] = np.sum((Q @ v.D_pred(h, Gs, grads)) * Q, axis=-1)
                else:
                    out["b"][h] = v.neurons(h, rows, cols)
            else:
                out["D"][h] = v.D_pred(h, Gs, grads)
        return out

    def observe(self, t: int, obs: Observation):
        """State records ``bal_fro{j}`` (||W_j||_F^2), the b/D drifts; step records of the previous step: the
        gradients' ``bal_gfro{j}`` and the b/D one-step errors (B's are formed after the loop from these)."""
        if not self.live:
            return {}, {}
        if self.every > 1 and t % self.every > 1 and self.mf is None:
            self._prev = None
            return {}, {}
        if self._defer:
            return self._observe_deferred(t, obs)
        m = self._measure(obs)
        if self._first is None:
            self._first = m
            self._init = {}
            for h, kind in self._vec_live:  # seed-wise initial max_i |b_h,i(0)|, ||D_h(0)||_F
                self._init[f"{kind}{h + 1}"] = (np.max(np.abs(m["b"][h]), axis=-1) if kind == "b"
                                                else np.sqrt(_fro_sq(m["D"][h])))
        m0 = self._first
        vals = {f"bal_fro{j + 1}": f for j, f in enumerate(m["fro"])}
        step = {}
        for h, kind in self._vec_live:
            if kind == "b":
                vals[f"bal_b{h + 1}_drift"] = np.max(np.abs(m["b"][h] - m0["b"][h]), axis=-1)
            else:
                self._dbatch[h].add_state(t, m["D"][h])
        if self._prev is not None:
            pm, pred, eta = self._prev
            e2 = eta * eta
            for j, g in enumerate(pred["fro"]):
                step[f"bal_gfro{j + 1}"] = g
            for h, kind in self._vec_live:
                if kind == "b":
                    k = f"b{h + 1}"
                    pb = e2[:, None] * pred["b"][h]
                    step[f"bal_{k}_step_err"] = np.max(np.abs((m["b"][h] - pm["b"][h]) - pb), axis=-1)
                    step[f"bal_{k}_step_pred"] = np.max(np.abs(pb), axis=-1)
        if self.mf is not None:
            self._mf_observe(obs, m, vals, step)
        self._obs_m = m
        return vals, step

    def _observe_deferred(self, t: int, obs: Observation):
        """The two-layer model's observe (``self._defer``): D(t) from the cache shared with the local-PL theory and
        references to the state, evaluated in batches (:class:`_DBatch`) and after the loop."""
        D = two_layer_D(self.view.model, obs.state, obs.cache)
        if self._first is None:
            self._first = True
            self._init = {"D1": np.sqrt(_fro_sq(D))}
        self._dbatch[0].add_state(t, D, obs.state)
        vals, step = {}, {}
        if self.mf is not None:
            self._last_state = obs.state
            if self.mf["rank1"]:
                self._r1_observe(obs, vals, step)
        return vals, step

    def after_step(self, t: int, obs: Observation, eta) -> None:
        """Step t's predicted terms from the gradients the update uses (``obs.update_grads``: the stochastic ones
        under SGD; module docstring, "SGD")."""
        if not self.live:
            return
        if self.every > 1 and t % self.every != 0 and self.mf is None:
            self._prev = None
            return
        grads = obs.update_grads if obs.update_grads is not None else obs.grads
        eta = np.asarray(eta, dtype=float)
        if self._defer:
            self._dbatch[0].add_step(t, eta, grads=grads)
        else:
            g = self._grad_terms(obs, grads)
            self._prev = (self._obs_m, g, eta)
            for h, db in self._dbatch.items():
                db.add_step(t, eta, P=g["D"][h])
        if self.mf is not None and self.mf["rank1"]:
            s, nu, nv = self._r1_s
            self._r1_prev = (s, np.asarray(eta, dtype=float), nu, nv)

    # -- after the loop -----------------------------------------------------------------------------
    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        R, T = rec["eta"].shape
        for c in self.checks:
            if c.not_applicable is not None:
                rec[c.applies] = np.zeros((R, T), dtype=bool)
                rec[c.held] = np.zeros((R, T), dtype=bool)
        if not self.live:
            return
        steps = np.arange(T)[None, :] < nsteps[:, None]
        states = np.arange(T + 1)[None, :] <= nsteps[:, None]
        for h, db in self._dbatch.items():
            a = db.arrays(T)
            rec[f"bal_D{h + 1}_drift"] = np.where(states, a["drift"], np.nan)
            rec[f"bal_D{h + 1}_step_err"] = np.where(steps, a["err"], np.nan)
            rec[f"bal_D{h + 1}_step_pred"] = np.where(steps, a["pnorm"], np.nan)
            if self._defer:  # the squared norms, batched (_DBatch)
                for j in range(self.view.N):
                    rec[f"bal_fro{j + 1}"] = np.where(states, a["fro"][j], np.nan)
                    rec[f"bal_gfro{j + 1}"] = np.where(steps, a["gfro"][j], np.nan)
                if self.mf is not None:
                    rec["mf_U_sq"], rec["mf_V_sq"] = rec["bal_fro1"].copy(), rec["bal_fro2"].copy()
                    rec["mf_D_fro"] = np.where(states, a["dnorm"], np.nan)
        eta = np.where(steps, rec["eta"], 0.0)
        if self.sgd:  # the update's (minibatch) gradients: sum_j ||g_j||^2 (module docstring, "SGD")
            gsq = np.where(steps, sum(rec[f"bal_gfro{j}"] for j in range(1, self.view.N + 1)), 0.0)
        else:
            gsq = np.where(steps, rec["grad_sq"][:, :T], 0.0)
        L = rec["loss"]
        cum = np.concatenate([np.zeros((R, 1)), np.cumsum(eta ** 2 * gsq, axis=1)], axis=1)
        rec["bal_cum_bound"] = np.where(np.arange(T + 1)[None, :] <= nsteps[:, None], cum, np.nan)
        held = 1 + RTOL_HELD
        # descent inequality L(s+1) <= L(s) - eta_s ||grad||^2 / 2 at every step so far
        Lp, Ln = L[:, :T], L[:, 1:]
        desc = steps & (Ln <= (Lp - 0.5 * eta * gsq) * held + 64 * EPS * np.abs(Lp))
        desc_run_all = np.logical_and.accumulate(desc | ~steps, axis=1) & steps
        rec["bal_descent_held"] = desc
        max_eta = np.maximum.accumulate(eta, axis=1) if T else eta
        dbound = 2 * max_eta * np.where(steps, L[:, :1] - Ln, np.nan)
        rec["bal_descent_bound"] = np.where(steps, dbound, np.nan)
        e2 = eta * eta
        fro = [rec[f"bal_fro{j}"] for j in range(1, self.view.N + 1)]
        gfro = [np.where(steps, rec[f"bal_gfro{j}"], 0.0) for j in range(1, self.view.N + 1)]
        for iv in self.live:
            k, h, kind = iv["key"], iv["pair"] - 1, iv["kind"]
            S = fro[h] + fro[h + 1]
            P = e2 * (gfro[h] + gfro[h + 1])
            inner = self.view.inner(h) if kind != "B" else sum(self.view.widths[h: h + 3])
            rec[f"bal_{k}_step_tol"] = np.where(steps, _tolerance(inner, S[:, :-1], S[:, 1:], P), np.nan)
            if kind == "B":
                B = fro[h] - fro[h + 1]
                rec[f"bal_{k}"] = B
                rec[f"bal_{k}_drift"] = B - B[:, :1]
                with np.errstate(divide="ignore", invalid="ignore"):
                    rec[f"bal_ratio{iv['pair']}"] = fro[h] / fro[h + 1]
                pred = e2 * (gfro[h] - gfro[h + 1])
                rec[f"bal_{k}_step_pred"] = np.where(steps, np.abs(pred), np.nan)
                rec[f"bal_{k}_step_err"] = np.where(steps, np.abs((B[:, 1:] - B[:, :-1]) - pred), np.nan)
                self._init[k] = B[:, 0].copy()
        for iv in self.live:
            k = iv["key"]
            err, tol = rec[f"bal_{k}_step_err"], rec[f"bal_{k}_step_tol"]
            have = steps & np.isfinite(err) & np.isfinite(tol)           # the pairs (t, t+1) recorded
            rec[f"balanced_{k}_step_applies"] = have
            rec[f"balanced_{k}_step_held"] = have & (err <= tol)
            drift = np.abs(rec[f"bal_{k}_drift"][:, 1:])
            at = steps & np.isfinite(drift)                                # the states t+1 recorded
            # rounding band of the cumulative drift: the recorded bands, and where states were skipped
            # (every > 1) the band of the last recorded pair per skipped step
            tfill = np.where(have, tol, np.nan)
            last = np.where(np.isfinite(tfill), tfill, 0.0)
            if T:
                idx = np.where(np.isfinite(tfill), np.arange(T)[None, :], 0)
                idx = np.maximum.accumulate(idx, axis=1)
                last = np.take_along_axis(np.where(np.isfinite(tfill), tfill, 0.0), idx, axis=1)
            ctol = np.cumsum(np.where(steps, last, 0.0), axis=1)
            rec[f"balanced_{k}_cum_applies"] = at
            rec[f"balanced_{k}_cum_held"] = at & (drift <= cum[:, 1:] * held + ctol)
            desc_run = desc_run_all & at
            rec[f"balanced_{k}_descent_applies"] = desc_run.copy()
            rec[f"balanced_{k}_descent_held"] = steps & (drift <= dbound * held + ctol)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = err / np.where(tol > 0, tol, np.nan)
            rec[f"bal_{k}_step_err_over_tol"] = np.where(steps, rel, np.nan)
        if self.mf is not None:
            self._mf_finalize(rec, nsteps, steps, rec["eta"])

    # -- results ------------------------------------------------------------------------------------
    def rows(self, arrays: dict, steps) -> list:
        """One dict per invariant (the "Balancedness" table): name, reference, initial value, max drift, the
        cumulative bound and the descent bound at the end, the one-step identity's largest error (absolute and
        over its rounding band), the violation counts, or the not-applicable reason."""
        out = []
        viol = self.violations(arrays)
        for iv in self.invariants:
            k = iv["key"]
            row = {"invariant": k, "name": iv["name"], "reference": iv["reference"], "pair": iv["pair"],
                   "not_applicable": iv["not_applicable"]}
            if iv["not_applicable"] is None:
                d = arrays[f"bal_{k}_drift"]
                row["initial"] = float(self._init[k][0])  # seed 0 (B_h(0); max |b_h(0)|; ||D_h(0)||_F)
                row["initial_per_seed"] = [float(x) for x in self._init[k]]
                row["max_drift"] = _nanmax(np.abs(d))
                row["cum_bound"] = _final(arrays["bal_cum_bound"], steps)
                row["descent_bound"] = _nanmax(arrays["bal_descent_bound"]) if arrays["bal_descent_bound"].size else None
                row["step_err_max"] = _nanmax(arrays[f"bal_{k}_step_err"])
                row["step_err_over_tol_max"] = _nanmax(arrays[f"bal_{k}_step_err_over_tol"])
                if f"bal_{k}_step_pred" in arrays:  # B, b: the largest |eta^2 (...)| term the identity predicted
                    row["step_pred_max"] = _nanmax(arrays[f"bal_{k}_step_pred"])
            for what in ("step", "cum", "descent"):
                ck = f"balanced_{k}_{what}"
                row[what] = {"violations": viol.get(ck, 0), "applicable": viol.get(f"{ck}_steps_applicable", 0)}
                if iv["not_applicable"] is None and viol.get(f"{ck}_not_applicable"):  # e.g. descent under SGD
                    row[what]["not_applicable"] = viol[f"{ck}_not_applicable"]
            out.append(row)
        return out

    def summary(self, result) -> dict:
        a = result.arrays
        ratios = {}
        for iv in self.live:
            if iv["kind"] == "B":
                r = a[f"bal_ratio{iv['pair']}"]
                ratios[f"{iv['pair']}"] = {"initial": float(r[0, 0]), "final": _final(r, result.steps)}
        v = self.view
        out = {}
        if self.mf is not None:
            out["factorization"] = self._mf_summary(result)
        return {**out, "balancedness": {"rows": self.rows(a, result.steps), "norm_ratios": ratios,
                                 "activation": getattr(v, "activation", None),
                                 "subgradient": getattr(v, "subgradient", "") or None,
                                 "neurons_recorded": bool(self.neurons_on and v.reason is None),
                                 "stochastic": self.sgd,
                                 "reference": self.reference}}


def _ev_reg(name: str, **vals):
    """A registered Du, Hu & Lee formula (paper ``du-hu-lee``) on the given values."""
    from convtool.analysis.evaluate import compiled

    f = compiled(name, paper="du-hu-lee")
    return np.asarray(f(*[vals[a] for a in f.argnames]), dtype=float)


def _nanmax(x):
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.max()) if x.size else None


def _final(arr, steps):
    """Seed 0's value at its last state (the table shows seed 0; JSON has the arrays)."""
    vals = [arr[r, int(steps[r])] for r in range(arr.shape[0]) if arr.shape[1] > int(steps[r])]
    vals = [float(x) for x in vals if np.isfinite(x)]
    return max(vals) if vals else None
