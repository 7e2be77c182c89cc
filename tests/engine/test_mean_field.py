"""The order-to-chaos mean-field theory (Poole et al. 2016, Schoenholz et al. 2017) against its
known values and against wide random networks simulated directly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgsim.engine.builders import mlp
from vgsim.engine.theory import critical_sigma_w2, mean_field
from vgsim.engine.train import Trainer


@pytest.mark.parametrize(
    ("function", "sigma_b2", "critical"),
    [
        ("tanh", 0.0, 1.0),  # tanh'(0)^2 = 1 at q* = 0
        ("relu", 0.0, 2.0),  # He et al.: E[relu'^2] = 1/2 at any variance
        ("relu", 0.05, 2.0),
        ("leaky_relu", 0.0, 2.0 / (1.0 + 0.01**2)),
        ("identity", 0.3, 1.0),
    ],
)
def test_critical_weight_variance_has_its_known_values(function, sigma_b2, critical):
    assert critical_sigma_w2(function, sigma_b2) == pytest.approx(critical, rel=1e-6)


def test_tanh_with_bias_variance_005_is_critical_near_176():
    # Schoenholz et al. 2017, Fig. 1: the critical line passes sigma_w2 ~ 1.76 at sigma_b2 = 0.05.
    critical = critical_sigma_w2("tanh", 0.05)
    assert critical == pytest.approx(1.761, abs=0.002)
    assert mean_field("tanh", critical, 0.05).chi1 == pytest.approx(1.0, abs=1e-8)


def test_linear_chain_has_closed_form_figures():
    m = mean_field("identity", 0.5, 0.2)
    assert m.q_star == pytest.approx(0.2 / (1 - 0.5), rel=1e-9)
    assert m.chi1 == pytest.approx(0.5, rel=1e-12)
    assert m.c_star == 1.0 and m.phase == "ordered"
    assert m.xi_c == pytest.approx(-1 / math.log(0.5), rel=1e-12)


def test_phases_and_depth_scale_peak_at_the_critical_line():
    critical = critical_sigma_w2("tanh", 0.05)
    below = [mean_field("tanh", w, 0.05) for w in (1.0, 1.3, 1.6)]
    above = [mean_field("tanh", w, 0.05) for w in (4.0, 3.0, 2.0)]
    assert all(m.phase == "ordered" and m.c_star == 1.0 for m in below)
    assert all(m.phase == "chaotic" and 0 < m.c_star < 1 for m in above)
    for side in (below, above):  # xi_c grows towards the critical line from either side
        xis = [m.xi_c for m in side]
        assert xis == sorted(xis) and xis[0] > 1
    near = mean_field("tanh", critical * 1.001, 0.05)
    assert near.xi_c > 10 * max(m.xi_c for m in below + above)
    assert 6 * below[0].xi_c == pytest.approx(21.8, abs=0.2)  # the trainable depth at 1.0


def _random_chain(
    sigma_w2: float, sigma_b2: float, depth: int, width: int, x: np.ndarray, seed: int = 0
):
    """Pre-activations of every layer of a random tanh chain, and the backward gradient norms."""
    rng = np.random.default_rng(seed)
    h, zs, ws = x, [], []
    for _ in range(depth):
        w = rng.normal(0, math.sqrt(sigma_w2 / h.shape[1]), (h.shape[1], width))
        b = rng.normal(0, math.sqrt(sigma_b2), width)
        z = h @ w + b
        zs.append(z)
        ws.append(w)
        h = np.tanh(z)
    g = rng.normal(size=h.shape)  # a random gradient arriving at the top, sent back
    norms = []
    for z, w in zip(reversed(zs), reversed(ws), strict=True):
        g = g * (1 - np.tanh(z) ** 2)
        norms.append(float(np.mean(g * g)))
        g = g @ w.T
    return zs, norms[::-1]


def _correlation(z: np.ndarray) -> float:
    """q12 / sqrt(q11 q22) over the units, as the theory defines it (not centred)."""
    return float(z[0] @ z[1] / math.sqrt((z[0] @ z[0]) * (z[1] @ z[1])))


@pytest.mark.slow  # wide networks, many draws: 25-30 s each
@pytest.mark.parametrize("sigma_w2", [1.2, 3.0])
def test_wide_random_networks_reach_the_predicted_fixed_points(sigma_w2):
    m = mean_field("tanh", sigma_w2, 0.05)
    x = np.random.default_rng(1).normal(size=(2, 500))
    x[1] = 0.6 * x[0] + 0.8 * x[1]  # two inputs of correlation about 0.6
    zs, norms = _random_chain(sigma_w2, 0.05, 60, 1500, x)
    q = np.mean([np.mean(z * z) for z in zs[40:]])
    assert q == pytest.approx(m.q_star, rel=0.05)
    c = np.mean([_correlation(z) for z in zs[40:]])
    assert c == pytest.approx(m.c_star, abs=0.06)  # finite width leaves c a little higher
    # Backward, the gradient's squared norm changes by chi_1 per layer.
    per_layer = (norms[20] / norms[50]) ** (1 / 30)
    assert per_layer == pytest.approx(m.chi1, rel=0.03)


@pytest.mark.slow  # wide networks, many draws: about 30 s
def test_correlations_converge_over_xi_c_layers_in_the_ordered_phase():
    m = mean_field("tanh", 1.2, 0.05)
    x = np.random.default_rng(2).normal(size=(2, 500))
    x[1] = 0.3 * x[0] + 0.95 * x[1]
    zs, _ = _random_chain(1.2, 0.05, 30, 3000, x, seed=3)
    gap = np.array([1 - _correlation(z) for z in zs])
    slope = np.polyfit(np.arange(8, 24), np.log(gap[8:24]), 1)[0]  # 1 - c ~ exp(-l / xi_c)
    assert -1 / slope == pytest.approx(m.xi_c, rel=0.15)


def test_a_trainer_with_drawn_biases_has_the_predicted_variance():
    # The engine's own network: W ~ N(0, sigma_w2 / n_in) and b ~ N(0, sigma_b2), tanh.
    sigma_w2, sigma_b2 = 2.5, 0.05
    net = mlp(
        20,
        1000,
        10,
        activation="tanh",
        init={"name": "lecun_normal", "gain": math.sqrt(sigma_w2)},
        data={"name": "digits"},
        training={"batch_size": 256, "dtype": "float64"},
    )
    for node in net.nodes:
        if node.type == "dense" and node.id != "head":
            node.params["bias_init"] = {"name": "normal", "std": math.sqrt(sigma_b2)}
    t = Trainer(net)
    z = t.snapshot_state()
    deep = [np.mean(z[f"act/dense{i}"] ** 2) for i in range(10, 21)]
    # Each layer's variance fluctuates by about sqrt(2 / 1000) around q*, the mean by less.
    assert np.mean(deep) == pytest.approx(mean_field("tanh", sigma_w2, sigma_b2).q_star, rel=0.04)
