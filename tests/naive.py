"""Slow, plainly correct numpy references: the oracles the engine's kernels are tested against.

Everything here is written for clarity, not speed: scalar formulas mapped over arrays, the
textbook chain rule step by step, PyTorch's documented update rules. Nothing imports vgsim, so a
mistake in the engine cannot leak into its own reference.
"""

from __future__ import annotations

import math

import numpy as np

# Klambauer et al. (2017); the same digits PyTorch uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _map(fn, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.array([fn(float(v)) for v in z.ravel()], dtype=np.float64).reshape(z.shape)


# --- activations: scalar f and f' -------------------------------------------------------------
def sigmoid(v: float) -> float:
    # 1 / (1 + e^-v) written through tanh: a different route from the engine's exp form.
    return 0.5 * (1.0 + math.tanh(0.5 * v))


def _softplus(v: float) -> float:
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


def _scalar_f(name: str, v: float, a: float) -> float:
    if name == "identity":
        return v
    if name == "sigmoid":
        return sigmoid(v)
    if name == "tanh":
        return math.tanh(v)
    if name == "relu":
        return v if v > 0 else 0.0
    if name in ("leaky_relu", "prelu"):
        return v if v > 0 else a * v
    if name == "elu":
        return v if v > 0 else a * (math.exp(v) - 1.0)
    if name == "selu":
        return SELU_SCALE * (v if v > 0 else SELU_ALPHA * (math.exp(v) - 1.0))
    if name == "softplus":
        return _softplus(v)
    if name == "swish":
        return v * sigmoid(v)
    raise ValueError(name)


def _scalar_df(name: str, v: float, a: float) -> float:
    if name == "identity":
        return 1.0
    if name == "sigmoid":
        s = sigmoid(v)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 / math.cosh(v) ** 2
    if name == "relu":
        return 1.0 if v > 0 else 0.0
    if name in ("leaky_relu", "prelu"):
        return 1.0 if v > 0 else a
    if name == "elu":
        return 1.0 if v > 0 else a * math.exp(v)
    if name == "selu":
        return SELU_SCALE * (1.0 if v > 0 else SELU_ALPHA * math.exp(v))
    if name == "softplus":
        return sigmoid(v)
    if name == "swish":
        s = sigmoid(v)
        return s + v * s * (1.0 - s)
    raise ValueError(name)


def act_f(name: str, z: np.ndarray, a: float = 0.0) -> np.ndarray:
    """f(z) elementwise; `a` is leaky_relu's slope, prelu's alpha or elu's alpha."""
    return _map(lambda v: _scalar_f(name, v, a), z)


def act_df(name: str, z: np.ndarray, a: float = 0.0) -> np.ndarray:
    """f'(z) elementwise."""
    return _map(lambda v: _scalar_df(name, v, a), z)


def prelu_dalpha(z: np.ndarray, dy: np.ndarray) -> float:
    """d/d alpha of sum(dy * prelu(z; alpha)): alpha multiplies z only where z <= 0."""
    return float(
        sum(float(g) * float(v) for v, g in zip(z.ravel(), dy.ravel(), strict=True) if v <= 0)
    )


# --- dense ------------------------------------------------------------------------------------
def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    n, m = x.shape[0], W.shape[1]
    y = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            y[i, j] = sum(x[i, k] * W[k, j] for k in range(W.shape[0]))
            if b is not None:
                y[i, j] += b[j]
    return y


def dense_backward(x: np.ndarray, W: np.ndarray, dy: np.ndarray):
    """(dx, dW, db) for y = x W + b."""
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


# --- batch norm (training mode) ---------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, run_mean, run_var, momentum=0.1, eps=1e-5):
    """(y, cache, new running mean, new running var), PyTorch's BatchNorm1d in training."""
    n = x.shape[0]
    mu = x.sum(axis=0) / n
    var = ((x - mu) ** 2).sum(axis=0) / n  # biased: used to normalise
    unbiased = ((x - mu) ** 2).sum(axis=0) / (n - 1)  # used for the running estimate
    xhat = (x - mu) / np.sqrt(var + eps)
    y = gamma * xhat + beta
    new_mean = (1 - momentum) * run_mean + momentum * mu
    new_var = (1 - momentum) * run_var + momentum * unbiased
    return y, (x, mu, var, eps, gamma, xhat), new_mean, new_var


def batchnorm_backward(dy, cache):
    """(dx, dgamma, dbeta) by the chain rule through mean and variance, one step at a time
    (Ioffe & Szegedy 2015, section 3)."""
    x, mu, var, eps, gamma, xhat = cache
    n = x.shape[0]
    dxhat = dy * gamma
    dvar = (dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5).sum(axis=0)
    dmu = (dxhat * -1.0 / np.sqrt(var + eps)).sum(axis=0) + dvar * (-2.0 * (x - mu)).sum(axis=0) / n
    dx = dxhat / np.sqrt(var + eps) + dvar * 2.0 * (x - mu) / n + dmu / n
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


# --- images: (batch, height, width, channels) ---------------------------------------------------
def conv2d_geometry(size: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    """(output size, zeros before the first pixel). "same": the output is ceil(size / stride)
    and the kernel is centred, one zero more after than before for an even kernel (PyTorch's
    padding="same"); "valid": no padding, floor((size - k) / stride) + 1 outputs."""
    if padding == "same":
        return math.ceil(size / stride), (k - 1) // 2
    return (size - k) // stride + 1, 0


def conv2d_forward(x: np.ndarray, W: np.ndarray, b, stride: int, padding: str) -> np.ndarray:
    """y[n, i, j, f] = b[f] + sum over di, dj, c of x[n, i*s - p + di, j*s - p + dj, c]
    W[di, dj, c, f], reading 0 outside the image (a cross-correlation, as PyTorch's Conv2d)."""
    n, h, w, c = x.shape
    k, f = W.shape[0], W.shape[3]
    oh, pad = conv2d_geometry(h, k, stride, padding)
    ow, _ = conv2d_geometry(w, k, stride, padding)
    y = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            for di in range(k):
                for dj in range(k):
                    r, q = i * stride - pad + di, j * stride - pad + dj
                    if 0 <= r < h and 0 <= q < w:
                        y[:, i, j, :] += x[:, r, q, :] @ W[di, dj]
    if b is not None:
        y += b
    return y


def conv2d_backward(x: np.ndarray, W: np.ndarray, dy: np.ndarray, stride: int, padding: str):
    """(dx, dW, db): every term of the forward sum sends dy back to the input entry and the
    weight it multiplied."""
    n, h, w, c = x.shape
    k = W.shape[0]
    _, pad = conv2d_geometry(h, k, stride, padding)
    dx, dW = np.zeros_like(x, dtype=np.float64), np.zeros_like(W, dtype=np.float64)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            for di in range(k):
                for dj in range(k):
                    r, q = i * stride - pad + di, j * stride - pad + dj
                    if 0 <= r < h and 0 <= q < w:
                        dx[:, r, q, :] += dy[:, i, j, :] @ W[di, dj].T
                        dW[di, dj] += x[:, r, q, :].T @ dy[:, i, j, :]
    return dx, dW, dy.sum(axis=(0, 1, 2))


def _windows(h: int, w: int, size: int, stride: int):
    """(i, j, rows, cols) of every pooling window, no padding, floor rounding."""
    for i in range((h - size) // stride + 1):
        for j in range((w - size) // stride + 1):
            yield i, j, slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)


def maxpool_forward(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    n, h, w, c = x.shape
    y = np.zeros((n, (h - size) // stride + 1, (w - size) // stride + 1, c))
    for i, j, rows, cols in _windows(h, w, size, stride):
        y[:, i, j, :] = x[:, rows, cols, :].max(axis=(1, 2))
    return y


def maxpool_backward(x: np.ndarray, dy: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Each window's gradient goes to its largest entry, the first in reading order of equal
    ones."""
    n, h, w, c = x.shape
    dx = np.zeros_like(x, dtype=np.float64)
    for i, j, rows, cols in _windows(h, w, size, stride):
        for s in range(n):
            for ch in range(c):
                window = x[s, rows, cols, ch]
                r, q = np.unravel_index(int(np.argmax(window)), window.shape)
                dx[s, rows.start + r, cols.start + q, ch] += dy[s, i, j, ch]
    return dx


def avgpool_forward(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    n, h, w, c = x.shape
    y = np.zeros((n, (h - size) // stride + 1, (w - size) // stride + 1, c))
    for i, j, rows, cols in _windows(h, w, size, stride):
        y[:, i, j, :] = x[:, rows, cols, :].mean(axis=(1, 2))
    return y


def avgpool_backward(x: np.ndarray, dy: np.ndarray, size: int, stride: int) -> np.ndarray:
    dx = np.zeros_like(x, dtype=np.float64)
    for i, j, rows, cols in _windows(x.shape[1], x.shape[2], size, stride):
        dx[:, rows, cols, :] += dy[:, i, j, None, None, :] / (size * size)
    return dx


def batchnorm2d_forward(x, gamma, beta, run_mean, run_var, momentum=0.1, eps=1e-5):
    """PyTorch's BatchNorm2d: batchnorm_forward with every (sample, position) a row."""
    c = x.shape[-1]
    y, cache, m, v = batchnorm_forward(
        x.reshape(-1, c), gamma, beta, run_mean, run_var, momentum, eps
    )
    return y.reshape(x.shape), cache, m, v


def batchnorm2d_backward(dy, cache):
    dx, dgamma, dbeta = batchnorm_backward(dy.reshape(-1, dy.shape[-1]), cache)
    return dx.reshape(dy.shape), dgamma, dbeta


# --- losses: (loss, d loss / d z) -------------------------------------------------------------
def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    t = np.zeros((len(labels), k))
    t[np.arange(len(labels)), labels] = 1.0
    return t


def softmax_cross_entropy(z: np.ndarray, labels: np.ndarray):
    n = z.shape[0]
    loss = 0.0
    dz = np.zeros_like(z, dtype=np.float64)
    for i in range(n):
        row = z[i] - z[i].max()
        p = np.exp(row) / np.exp(row).sum()
        loss += -math.log(p[labels[i]])
        dz[i] = p
        dz[i, labels[i]] -= 1.0
    return loss / n, dz / n


def mse(z: np.ndarray, t: np.ndarray):
    """Mean over batch and outputs of (z - t)^2."""
    d = z - t
    return float((d**2).sum() / d.size), 2.0 * d / d.size


def bce_targets(labels: np.ndarray, k: int) -> np.ndarray:
    """One output: the label itself (1 = positive); several outputs: one-hot labels."""
    return labels.astype(np.float64).reshape(-1, 1) if k == 1 else one_hot(labels, k)


def bce_with_logits(z: np.ndarray, t: np.ndarray):
    """Mean over batch and outputs of -(t log s + (1-t) log(1-s)), s = sigmoid(z)."""
    s = _map(sigmoid, z)
    loss = -(t * np.log(s) + (1 - t) * np.log(1 - s)).sum() / z.size
    return float(loss), (s - t) / z.size


def loss_and_grad(name: str, z: np.ndarray, y: np.ndarray):
    """The engine's losses by name; y is integer labels, or a (n, k) target for regression."""
    if name == "softmax_cross_entropy":
        return softmax_cross_entropy(z, y)
    if name == "binary_cross_entropy":
        return bce_with_logits(z, bce_targets(y, z.shape[1]))
    t = y if y.dtype.kind == "f" else one_hot(y, z.shape[1])
    return mse(z, t.reshape(z.shape))


def correct_count(name: str, z: np.ndarray, labels: np.ndarray) -> int:
    if name == "binary_cross_entropy" and z.shape[1] == 1:
        return int(((z[:, 0] > 0) == (labels == 1)).sum())
    return int((z.argmax(axis=1) == labels).sum())


# --- gradient clipping and optimizers ---------------------------------------------------------
def clip_value(g: np.ndarray, thr: float):
    """(clipped, fired, norm before, norm after), as torch.nn.utils.clip_grad_value_."""
    out = np.minimum(np.maximum(g, -thr), thr)
    return out, bool((np.abs(g) > thr).any()), float(np.linalg.norm(g)), float(np.linalg.norm(out))


def clip_norm(g: np.ndarray, thr: float):
    """(clipped, fired, norm before, norm after), as torch.nn.utils.clip_grad_norm_."""
    norm = float(np.sqrt((g.astype(np.float64) ** 2).sum()))
    coef = thr / (norm + 1e-6)
    if coef < 1:
        out = g * coef
        return out, True, norm, float(np.linalg.norm(out))
    return g.copy(), False, norm, norm


class Optimizer:
    """PyTorch's update rules (torch.optim docs, weight decay 0, dampening 0) on one flat
    parameter vector."""

    def __init__(
        self,
        name: str,
        lr: float,
        momentum: float = 0.9,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        alpha: float = 0.99,
    ):
        self.name, self.lr, self.mu = name, lr, momentum
        self.beta1, self.beta2, self.eps, self.alpha = beta1, beta2, eps, alpha
        self.t = 0
        self.buf: np.ndarray | None = None  # momentum buffer / Adam's first moment
        self.sq: np.ndarray | None = None  # Adam's / RMSprop's second moment

    def step(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The new parameters (w itself is left alone)."""
        self.t += 1
        lr = self.lr
        if self.name == "sgd":
            return w - lr * g
        if self.name in ("momentum", "nesterov"):
            # torch: the buffer starts as a copy of the first gradient.
            self.buf = g.copy() if self.buf is None else self.mu * self.buf + g
            d = g + self.mu * self.buf if self.name == "nesterov" else self.buf
            return w - lr * d
        if self.name == "adam":
            if self.buf is None:
                self.buf, self.sq = np.zeros_like(w), np.zeros_like(w)
            self.buf = self.beta1 * self.buf + (1 - self.beta1) * g
            self.sq = self.beta2 * self.sq + (1 - self.beta2) * g * g
            m_hat = self.buf / (1 - self.beta1**self.t)
            v_hat = self.sq / (1 - self.beta2**self.t)
            return w - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        if self.name == "rmsprop":
            if self.sq is None:
                self.sq = np.zeros_like(w)
            self.sq = self.alpha * self.sq + (1 - self.alpha) * g * g
            return w - lr * g / (np.sqrt(self.sq) + self.eps)
        raise ValueError(self.name)


# --- whole networks ---------------------------------------------------------------------------
NODE_DEFAULTS = {
    "leaky_relu": {"slope": 0.01},
    "elu": {"alpha": 1.0},
    "batchnorm": {"momentum": 0.1, "eps": 1e-5},
    "conv2d": {"kernel": 3, "stride": 1, "padding": "same"},
    "maxpool": {"size": 2},
    "avgpool": {"size": 2},
    "dropout": {"rate": 0.5},
}


def _order(nodes: list[dict], preds: dict[str, list[str]]) -> list[str]:
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done:
            return
        for p in preds[node_id]:
            visit(p)
        done.append(node_id)

    for n in nodes:
        visit(n["id"])
    return done


def network(
    net: dict,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 0.0,
    run: dict[str, np.ndarray] | None = None,
    masks: dict[str, np.ndarray] | None = None,
) -> dict:
    """Forward and backward through a network description (the JSON dict) in training mode.

    `params` maps "param/<id>/<name>" to arrays; `run` maps "<id>/mean" and "<id>/var" to the
    batch-norm running statistics (updated copies are returned); `masks` maps "mask/<id>" to a
    dropout node's mask (1 kept, 0 dropped). Returns a dict with the keys of
    Trainer.state_arrays ("loss", "act/<id>", "dact/<id>", "grad/<id>/<name>") and "run/...".
    A node with several incoming edges receives their sum. Images are (batch, height, width,
    channels); a dense layer or the output takes a flat (batch, values) array.
    """
    nodes = {n["id"]: n for n in net["nodes"]}
    preds: dict[str, list[str]] = {i: [] for i in nodes}
    for e in net["edges"]:
        preds[e["to"]].append(e["from"])
    order = _order(net["nodes"], preds)
    run = dict(run or {})
    acts: dict[str, np.ndarray] = {}
    ins: dict[str, np.ndarray] = {}
    caches: dict[str, object] = {}
    out_id = ""
    for node_id in order:
        node = nodes[node_id]
        kind = node["type"]
        if kind == "input":
            acts[node_id] = x.astype(np.float64)
            continue
        v = sum(acts[p] for p in preds[node_id])
        ins[node_id] = v
        spec = {**NODE_DEFAULTS.get(kind, {}), **node}
        if kind in ("maxpool", "avgpool"):
            spec.setdefault("stride", spec["size"])
        if kind == "conv2d":
            acts[node_id] = conv2d_forward(
                v,
                params[f"param/{node_id}/W"],
                params.get(f"param/{node_id}/b"),
                spec["stride"],
                spec["padding"],
            )
        elif kind == "maxpool":
            acts[node_id] = maxpool_forward(v, spec["size"], spec["stride"])
        elif kind == "avgpool":
            acts[node_id] = avgpool_forward(v, spec["size"], spec["stride"])
        elif kind == "global_avgpool":
            acts[node_id] = v.mean(axis=(1, 2))
        elif kind == "flatten":
            acts[node_id] = v.reshape(len(v), -1)
        elif kind == "dropout":
            acts[node_id] = v * (masks or {})[f"mask/{node_id}"] / (1.0 - spec["rate"])
        elif kind == "batchnorm" and v.ndim == 4:
            w = v.shape[-1]
            y_bn, caches[node_id], m1, v1 = batchnorm2d_forward(
                v,
                params[f"param/{node_id}/gamma"],
                params[f"param/{node_id}/beta"],
                run.get(f"{node_id}/mean", np.zeros(w)),
                run.get(f"{node_id}/var", np.ones(w)),
                spec["momentum"],
                spec["eps"],
            )
            acts[node_id] = y_bn
            run[f"{node_id}/mean"], run[f"{node_id}/var"] = m1, v1
        elif kind == "dense":
            acts[node_id] = dense_forward(
                v, params[f"param/{node_id}/W"], params.get(f"param/{node_id}/b")
            )
        elif kind == "activation":
            fn = node["function"]
            acts[node_id] = act_f(fn, v, _act_param(node, params))
        elif kind == "batchnorm":
            w = v.shape[1]
            mean0 = run.get(f"{node_id}/mean", np.zeros(w))
            var0 = run.get(f"{node_id}/var", np.ones(w))
            y_bn, caches[node_id], m1, v1 = batchnorm_forward(
                v,
                params[f"param/{node_id}/gamma"],
                params[f"param/{node_id}/beta"],
                mean0,
                var0,
                spec["momentum"],
                spec["eps"],
            )
            acts[node_id] = y_bn
            run[f"{node_id}/mean"], run[f"{node_id}/var"] = m1, v1
        else:  # output
            acts[node_id] = v
            out_id = node_id
    loss_name = nodes[out_id].get("loss", "softmax_cross_entropy")
    loss, dz = loss_and_grad(loss_name, acts[out_id], y)
    weights = [k for k in params if k.endswith("/W")]
    loss += l2 * sum(float((params[k] ** 2).sum()) for k in weights)
    out: dict = {"loss": loss, "order": order}
    dacts = {i: np.zeros_like(a) for i, a in acts.items()}
    dacts[out_id] = dz
    for node_id in reversed(order):
        node = nodes[node_id]
        kind = node["type"]
        if kind == "input":
            continue
        dy = dacts[node_id]
        v = ins[node_id]
        spec = {**NODE_DEFAULTS.get(kind, {}), **node}
        if kind in ("maxpool", "avgpool"):
            spec.setdefault("stride", spec["size"])
        if kind == "conv2d":
            W = params[f"param/{node_id}/W"]
            dx, dW, db = conv2d_backward(v, W, dy, spec["stride"], spec["padding"])
            out[f"grad/{node_id}/W"] = dW + 2 * l2 * W
            if f"param/{node_id}/b" in params:
                out[f"grad/{node_id}/b"] = db
        elif kind == "maxpool":
            dx = maxpool_backward(v, dy, spec["size"], spec["stride"])
        elif kind == "avgpool":
            dx = avgpool_backward(v, dy, spec["size"], spec["stride"])
        elif kind == "global_avgpool":
            dx = np.broadcast_to(dy[:, None, None, :] / (v.shape[1] * v.shape[2]), v.shape)
        elif kind == "flatten":
            dx = dy.reshape(v.shape)
        elif kind == "dropout":
            dx = dy * (masks or {})[f"mask/{node_id}"] / (1.0 - spec["rate"])
        elif kind == "batchnorm" and v.ndim == 4:
            dx, out[f"grad/{node_id}/gamma"], out[f"grad/{node_id}/beta"] = batchnorm2d_backward(
                dy, caches[node_id]
            )
        elif kind == "dense":
            W = params[f"param/{node_id}/W"]
            dx, dW, db = dense_backward(v, W, dy)
            out[f"grad/{node_id}/W"] = dW + 2 * l2 * W
            if f"param/{node_id}/b" in params:
                out[f"grad/{node_id}/b"] = db
        elif kind == "activation":
            fn = node["function"]
            dx = dy * act_df(fn, v, _act_param(node, params))
            if fn == "prelu":
                out[f"grad/{node_id}/alpha"] = np.array([prelu_dalpha(v, dy)])
        elif kind == "batchnorm":
            dx, out[f"grad/{node_id}/gamma"], out[f"grad/{node_id}/beta"] = batchnorm_backward(
                dy, caches[node_id]
            )
        else:
            dx = dy
        for p in preds[node_id]:
            dacts[p] = dacts[p] + dx
    for i in order:
        out[f"act/{i}"] = acts[i]
        out[f"dact/{i}"] = dacts[i]
    out.update({f"run/{k}": v for k, v in run.items()})
    return out


def _act_param(node: dict, params: dict[str, np.ndarray]) -> float:
    fn = node["function"]
    if fn == "prelu":
        return float(params[f"param/{node['id']}/alpha"][0])
    if fn == "leaky_relu":
        return float(node.get("slope", NODE_DEFAULTS["leaky_relu"]["slope"]))
    if fn == "elu":
        return float(node.get("alpha", NODE_DEFAULTS["elu"]["alpha"]))
    return 0.0
