"""Weight initialisers: each one's empirical mean, variance and shape of distribution against its
formula, on matrices large enough that the sampling error is small and known.

W has shape (n_in, n_out); fan-in n_in, fan-out n_out. Shapes below are deliberately lopsided so
that a fan-in/fan-out mix-up changes the scale by a large factor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgsim.engine.init import init_scale, initialise
from vgsim.engine.spec import Network
from vgsim.engine.train import Trainer

N_IN, N_OUT = 600, 150  # 90 000 samples: variance known to ~0.5 %, a fan swap is a factor 4+
SIGMAS = 6.0  # tolerance in standard errors; every draw is seeded, so this never flakes


def draw(init, n_in: int = N_IN, n_out: int = N_OUT, seed: int = 0) -> np.ndarray:
    w = initialise(init, n_in, n_out, np.random.default_rng(seed))
    assert w.shape == (n_in, n_out)
    assert w.dtype == np.float64
    return w


def check_moments(w: np.ndarray, mean: float, var: float, kurtosis: float) -> None:
    """Sample mean and variance within SIGMAS standard errors of (mean, var); kurtosis (3 for a
    normal, 1.8 for a uniform) tells the two families apart."""
    n = w.size
    m, v = float(w.mean()), float(w.var())
    assert abs(m - mean) < SIGMAS * math.sqrt(var / n), (m, mean)
    # Var of the sample variance = var^2 (kurtosis - 1) / n.
    assert abs(v - var) < SIGMAS * var * math.sqrt((kurtosis - 1) / n), (v, var)
    k = float(((w - m) ** 4).mean() / v**2)
    assert abs(k - kurtosis) < 0.1, (k, kurtosis)


def check_uniform(w: np.ndarray, limit: float) -> None:
    check_moments(w, 0.0, limit**2 / 3, 1.8)
    top = float(np.abs(w).max())
    assert top <= limit
    # The largest of n uniform |w| falls short of the limit by more than c/n with
    # probability e^-c: c = 30 never happens.
    assert top > limit * (1 - 30 / w.size), (top, limit)


def check_normal(w: np.ndarray, std: float, mean: float = 0.0) -> None:
    check_moments(w, mean, std**2, 3.0)


UNIFORM = {  # name -> limit for (N_IN, N_OUT)
    "standard": 1 / math.sqrt(N_IN),
    "xavier_uniform": math.sqrt(6 / (N_IN + N_OUT)),
    "he_uniform": math.sqrt(6 / N_IN),
}
NORMAL = {  # name -> std
    "xavier_normal": math.sqrt(2 / (N_IN + N_OUT)),
    "he_normal": math.sqrt(2 / N_IN),
    "lecun_normal": math.sqrt(1 / N_IN),
}


def test_zeros():
    w = draw("zeros")
    assert (w == 0).all()


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_constant(gain):
    w = draw({"name": "constant", "value": -0.3, "gain": gain})
    assert (w == -0.3 * gain).all()


@pytest.mark.parametrize(
    ("std", "mean", "gain"), [(0.01, 0.0, 1.0), (0.5, 1.5, 1.0), (0.2, -0.4, 3.0)]
)
def test_normal(std, mean, gain):
    """N(mean, (gain * std)^2): the gain scales the spread, not the mean."""
    check_normal(draw({"name": "normal", "std": std, "mean": mean, "gain": gain}), gain * std, mean)


def test_normal_defaults():
    check_normal(draw("normal"), 0.01)


@pytest.mark.parametrize(("limit", "gain"), [(0.05, 1.0), (2.0, 1.0), (0.3, 0.5)])
def test_uniform(limit, gain):
    check_uniform(draw({"name": "uniform", "limit": limit, "gain": gain}), gain * limit)


@pytest.mark.parametrize("gain", [1.0, 2.0])
@pytest.mark.parametrize("name", list(UNIFORM))
def test_uniform_families(name, gain):
    """U[-gain * limit, gain * limit]; the largest |w| approaches the limit, never passes it."""
    check_uniform(draw({"name": name, "gain": gain}), gain * UNIFORM[name])


@pytest.mark.parametrize("gain", [1.0, 2.0])
@pytest.mark.parametrize("name", list(NORMAL))
def test_normal_families(name, gain):
    check_normal(draw({"name": name, "gain": gain}), gain * NORMAL[name])


def test_fan_in_and_fan_out_are_not_swapped():
    """Transposing the shape changes he/lecun (fan-in) and keeps xavier (both fans)."""
    wide = {name: draw(name, N_OUT, N_IN).var() for name in ("he_normal", "xavier_normal")}
    assert wide["he_normal"] == pytest.approx(2 / N_OUT, rel=0.03)
    assert wide["xavier_normal"] == pytest.approx(2 / (N_IN + N_OUT), rel=0.03)
    assert np.abs(draw("standard", N_OUT, N_IN)).max() == pytest.approx(
        1 / math.sqrt(N_OUT), rel=1e-3
    )


@pytest.mark.parametrize("gain", [1.0, 1.7])
@pytest.mark.parametrize(("n_in", "n_out"), [(40, 12), (12, 40), (25, 25)])
def test_orthogonal(n_in, n_out, gain):
    """Tall: W^T W = gain^2 I (orthonormal columns); wide: W W^T = gain^2 I (rows)."""
    w = draw({"name": "orthogonal", "gain": gain}, n_in, n_out)
    gram = w.T @ w if n_in >= n_out else w @ w.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(n_in, n_out)), atol=1e-12)
    assert np.linalg.matrix_rank(w) == min(n_in, n_out)


def test_orthogonal_is_random_and_seeded():
    a, b = draw("orthogonal", 30, 10, seed=1), draw("orthogonal", 30, 10, seed=1)
    c = draw("orthogonal", 30, 10, seed=2)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1
    # Entries of a random orthogonal matrix's column are spread, not axis-aligned.
    assert np.abs(draw("orthogonal", N_IN, N_OUT)).max() < 0.5


@pytest.mark.parametrize(
    "name", ["standard", "xavier_uniform", "he_normal", "normal", "uniform", "orthogonal"]
)
def test_same_seed_same_weights_different_seed_different(name):
    a, b, c = draw(name, 50, 20, 4), draw(name, 50, 20, 4), draw(name, 50, 20, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("name", "kind", "scale"),
    [
        ("zeros", "constant", 0.0),
        ("standard", "uniform", 0.1),
        ("xavier_uniform", "uniform", math.sqrt(6 / 125)),
        ("xavier_normal", "normal", math.sqrt(2 / 125)),
        ("he_uniform", "uniform", math.sqrt(6 / 100)),
        ("he_normal", "normal", math.sqrt(2 / 100)),
        ("lecun_normal", "normal", 0.1),
        ("orthogonal", "orthogonal", 1.0),
    ],
)
def test_init_scale_formulas(name, kind, scale):
    assert init_scale(name, 100, 25, {}) == (kind, pytest.approx(scale, rel=1e-15))
    got = init_scale(name, 100, 25, {"gain": 3.0})
    assert got == (kind, pytest.approx(3.0 * scale, rel=1e-15))


def test_unknown_initialiser_is_refused():
    with pytest.raises(ValueError, match="bogus"):
        initialise("bogus", 3, 3, np.random.default_rng(0))


def test_trainer_uses_each_nodes_initialiser_and_bias_init():
    net = {
        "format": "vgsim.network/1",
        "data": {"name": "moons", "samples": 100},
        "nodes": [
            {"id": "in", "type": "input"},
            {
                "id": "d1",
                "type": "dense",
                "units": 300,
                "init": {"name": "constant", "value": 0.25},
                "bias_init": -0.5,
            },
            {"id": "d2", "type": "dense", "units": 400, "init": "he_uniform"},
            {
                "id": "d3",
                "type": "dense",
                "units": 2,
                "init": {"name": "normal", "std": 0.3, "gain": 2.0},
                "bias": False,
            },
            {"id": "out", "type": "output"},
        ],
        "edges": [
            {"from": a, "to": b}
            for a, b in (("in", "d1"), ("d1", "d2"), ("d2", "d3"), ("d3", "out"))
        ],
        "training": {"dtype": "float64"},
    }
    tr = Trainer(Network.from_dict(net))
    s = tr.state_arrays()
    assert (s["param/d1/W"] == 0.25).all() and s["param/d1/W"].shape == (2, 300)
    assert (s["param/d1/b"] == -0.5).all()
    check_uniform(s["param/d2/W"], math.sqrt(6 / 300))
    assert (s["param/d2/b"] == 0).all()
    w3 = s["param/d3/W"]
    assert w3.shape == (400, 2) and "param/d3/b" not in s
    assert w3.std() == pytest.approx(0.6, rel=0.15)
    # Reset re-draws the same weights from the seed.
    first = tr.params.copy()
    tr.params[:] = 0
    tr.reset()
    np.testing.assert_array_equal(tr.params, first)


def _dense_net(bias_init: object, seed: int = 0) -> Network:
    return Network.from_dict(
        {
            "format": "vgsim.network/1",
            "data": {"name": "moons", "samples": 100},
            "nodes": [
                {"id": "in", "type": "input"},
                {"id": "d1", "type": "dense", "units": 4000, "bias_init": bias_init},
                {"id": "d2", "type": "dense", "units": 2},
                {"id": "out", "type": "output"},
            ],
            "edges": [{"from": a, "to": b} for a, b in (("in", "d1"), ("d1", "d2"), ("d2", "out"))],
            "training": {"dtype": "float64", "seed": seed},
        }
    )


def test_a_bias_can_be_drawn_by_an_initialiser():
    b = Trainer(_dense_net({"name": "normal", "std": 0.22})).state_arrays()["param/d1/b"]
    assert b.shape == (4000,)
    assert abs(b.mean()) < 0.02 and b.std() == pytest.approx(0.22, rel=0.05)
    # Scaled by the layer's fans like its weights: he_uniform's limit is sqrt(6 / n_in), n_in 2.
    b = Trainer(_dense_net("he_uniform")).state_arrays()["param/d1/b"]
    assert b.max() <= np.sqrt(3.0) and b.max() > 0.95 * np.sqrt(3.0) and b.min() < -1.6
    b = Trainer(_dense_net({"name": "constant", "value": 0.3})).state_arrays()["param/d1/b"]
    assert np.all(b == 0.3)


def test_drawn_biases_follow_the_seed_and_constant_ones_leave_the_weights_alone():
    def params(bias_init, seed):
        return Trainer(_dense_net(bias_init, seed)).state_arrays()

    a, b = params({"name": "normal", "std": 0.1}, 3), params({"name": "normal", "std": 0.1}, 3)
    assert np.array_equal(a["param/d1/b"], b["param/d1/b"])
    other_seed = params({"name": "normal", "std": 0.1}, 4)
    assert not np.array_equal(a["param/d1/b"], other_seed["param/d1/b"])
    # A constant bias draws nothing: every weight is the one a zero bias gives.
    zero, half = params(0.0, 3), params(0.5, 3)
    for key in ("param/d1/W", "param/d2/W"):
        assert np.array_equal(zero[key], half[key])
