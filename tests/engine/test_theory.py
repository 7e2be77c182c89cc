"""The mean-field prediction of the gradient flow at initialisation, against a measured step."""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine.builders import mlp, residual_mlp
from vgsim.engine.kernels.stats import S_GRAD
from vgsim.engine.theory import predicted_gradient_flow
from vgsim.engine.train import Trainer

DATA = {"name": "spiral", "samples": 600}


def measured_relative(t: Trainer) -> np.ndarray:
    """Gradient reaching each block at step 0, relative to the block feeding the output."""
    g = t.step().node_stats[:, S_GRAD].astype(np.float64)
    return g / g[t.plan.preds[t.plan.out_idx - 1]]


def hidden(t: Trainer) -> list[int]:
    return [i for i, kind in enumerate(t.plan.types) if kind in ("dense", "activation")]


@pytest.mark.parametrize(
    "activation,init,within",
    [
        ("sigmoid", "standard", 1.5),  # the lecture's vanishing network: six orders of magnitude
        ("tanh", "xavier_uniform", 1.5),
        ("identity", "normal", 1.3),
    ],
)
def test_prediction_follows_the_measured_flow_at_step_0(activation, init, within):
    init_spec = {"name": "normal", "std": 0.1} if init == "normal" else init
    net = mlp(
        8,
        64,
        3,
        activation=activation,
        init=init_spec,
        data=DATA,
        training={"batch_size": 128, "dtype": "float64"},
    )
    t = Trainer(net)
    predicted = predicted_gradient_flow(t)
    measured = measured_relative(t)
    layers = hidden(t)
    ratio = predicted[layers] / measured[layers]
    assert np.all(ratio < within) and np.all(ratio > 1 / within), ratio
    if activation == "sigmoid":
        assert predicted[layers[0]] < 1e-4  # it does predict the vanishing


def test_relu_with_he_init_is_predicted_to_keep_the_gradient(seed=0):
    net = mlp(
        8,
        64,
        3,
        activation="relu",
        init="he_normal",
        data=DATA,
        training={"batch_size": 128, "seed": seed},
    )
    predicted = predicted_gradient_flow(Trainer(net))
    assert np.nanmin(predicted) > 0.3 and np.nanmax(predicted) < 3


def test_no_prediction_for_skips_or_batch_norm():
    assert predicted_gradient_flow(Trainer(residual_mlp(2, 8, 3, data=DATA))) is None
    assert predicted_gradient_flow(Trainer(mlp(2, 8, 3, batchnorm=True, data=DATA))) is None


def test_the_input_and_output_have_no_prediction_and_the_anchor_is_one():
    t = Trainer(mlp(3, 16, 3, activation="tanh", init="xavier_uniform", data=DATA))
    predicted = predicted_gradient_flow(t)
    assert np.isnan(predicted[0]) and np.isnan(predicted[t.plan.out_idx])
    assert predicted[t.plan.preds[t.plan.out_idx - 1]] == 1.0
