"""The comparison window (lockstep training off the GUI thread, thumbnails, overlay plots) and
its headless overlay plots."""

from __future__ import annotations

import gc
import struct
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel, QWidget

from vgsim.app.compare.headless import render_comparison_plots
from vgsim.app.compare.plots import ComparisonDashboard, key_names
from vgsim.app.compare.window import ComparisonWindow, open_comparison
from vgsim.engine import load_network
from vgsim.engine.builders import mlp
from vgsim.experiments.comparison_data import from_compare_dir, from_comparison
from vgsim.experiments.comparisons import Comparison, ComparisonError, compare_networks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SPIRAL_SMALL = ROOT / "tests" / "engine" / "networks" / "spiral_small.json"
KEYS = ["loss", "gradient-flow", "first-layer-gradient", "gradient-difference"]


def open_window(qtbot, networks, **kwargs) -> ComparisonWindow:
    window = ComparisonWindow(Comparison(networks, **kwargs))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


def wait_frame(qtbot, window: ComparisonWindow, condition, timeout: int = 20000):
    qtbot.waitUntil(
        lambda: window.frame is not None and bool(condition(window.frame)), timeout=timeout
    )  # a bool: see tests/windows.py
    return window.frame


@pytest.fixture
def sigmoid_vs_relu(qtbot):
    nets = [load_network(EXAMPLES / f"{name}.json") for name in ("deep-sigmoid", "relu-he")]
    window = open_window(qtbot, nets, seed=0)
    yield window
    window.shutdown()


def small_net(name: str):
    return mlp(2, 8, 3, data={"name": "spiral", "samples": 200}, name=name)


def legend_texts(overlay) -> list[str]:
    return [label.text for _, label in overlay.legend.items]


def test_key_names_leave_out_the_words_every_run_shares_but_stay_apart():
    from types import SimpleNamespace as Run

    def runs(*labels: str) -> list:
        return [Run(label=label, diverged=False, diverged_at=None) for label in labels]

    assert key_names(
        runs(
            "ReLU network with negative biases",
            "Leaky ReLU (slope 0.2) network with negative biases",
        )
    ) == ["ReLU", "Leaky ReLU (slope 0.2)"]
    assert key_names(runs("plain 20", "plain 56", "residual 56")) == [
        "plain 20",
        "plain 56",
        "residual 56",
    ]
    assert key_names(runs("same", "same")) == ["same", "same"]  # nothing to tell apart by
    assert key_names(runs("only one")) == ["only one"]


def test_window_shows_a_thumbnail_and_one_curve_per_run(sigmoid_vs_relu, qtbot):
    window = sigmoid_vs_relu
    labels = ["Deep sigmoid (vanishing gradients)", "Deep ReLU with He init"]
    for card, label in zip(window.cards, labels, strict=True):
        assert card.title.toolTip() == label
        assert len(card.thumbnail.canvas.nodes) == 19
    window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.data.step == 1)
    assert frame.data.labels == labels
    short = ["sigmoid (vanishing gradients)", "ReLU with He init"]  # the cards say "Deep"
    for key, overlay in window.dashboard.plots.items():
        assert len(overlay.curves) == 2, key
        expected = [short[0] + " (reference)", short[1]] if key == "gradient-difference" else short
        assert legend_texts(overlay) == expected, key
        assert overlay.legend.parentItem() is overlay.plot  # under the plot, not over the data
    flow = window.dashboard.plots["gradient-flow"]
    x, y = flow.curves[0].getData()
    assert len(x) == 18 and x[0] == 0 and x[-1] == 1  # every block after the input
    # The sigmoid's first layer gets a vanishing share of the ReLU's gradient: dark on its card.
    first_dense = window.cards[0].thumbnail.canvas.nodes["dense1"]
    assert first_dense.tint is not None and "gradient reaching it" in first_dense.toolTip()
    assert frame.data.runs[1].first_ratio > 3
    assert "first layer gets 10" in window.cards[1].status.text()


def test_stepping_and_playing_advance_every_run_together(sigmoid_vs_relu, qtbot):
    window = sigmoid_vs_relu
    for _ in range(3):
        window.actions["step"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.data.step == 3)
    assert [run.steps_done for run in frame.data.runs] == [3, 3]
    window.actions["play"].trigger()
    wait_frame(qtbot, window, lambda f: f.playing and f.data.step > 40)
    assert window.actions["play"].text() == "Pause"
    window.actions["play"].trigger()
    frame = wait_frame(qtbot, window, lambda f: not f.playing)
    steps = [run.steps_done for run in frame.data.runs]
    assert steps[0] == steps[1] > 40
    loss = window.dashboard.plots["loss"]
    assert all(len(curve.getData()[0]) > 40 for curve in loss.curves)
    window.actions["reset"].trigger()
    frame = wait_frame(qtbot, window, lambda f: f.data.step == 0)
    assert window.progress_label.text().startswith("step 0")


def test_a_network_against_itself_differs_by_exactly_zero(qtbot):
    net = load_network(SPIRAL_SMALL)  # no positions for some blocks: the thumbnail lays out
    window = open_window(qtbot, [net, net])
    try:
        window.worker.send("step", 25)
        frame = wait_frame(qtbot, window, lambda f: f.data.step == 25)
        difference = frame.data.runs[1].difference
        assert np.isfinite(difference).all() and (difference == 0).all()
        _, y = window.dashboard.plots["gradient-difference"].curves[1].getData()
        assert len(y) == len(difference) and (y == 0).all()
    finally:
        window.shutdown()


def sine(lr: float):
    return mlp(
        4,
        16,
        1,
        activation="relu",
        loss="mse",
        data={"name": "sine"},
        training={"lr": lr, "batch_size": 16},
        name=f"lr {lr:g}",
    )


def test_a_diverging_run_is_shown_as_diverged_while_the_other_goes_on(qtbot):
    window = open_window(qtbot, [sine(5.0), sine(0.001)])
    try:
        window.actions["play"].trigger()
        frame = wait_frame(
            qtbot,
            window,
            lambda f: (
                f.data.runs[0].diverged
                and f.data.runs[1].steps_done > f.data.runs[0].steps_done + 50
            ),
        )
        hot, cold = frame.data.runs
        assert cold.status == "ok" and frame.error is None
        assert "diverged at step" in window.cards[0].status.text()
        assert "diverged" not in window.cards[1].status.text()
        wait_frame(qtbot, window, lambda f: f.data.runs[1].steps_done > cold.steps_done)
        name = legend_texts(window.dashboard.plots["loss"])[0]
        assert name == key_names(frame.data.runs)[0]
        assert f"diverged at step {hot.diverged_at}" in name
        window.actions["play"].trigger()
        wait_frame(qtbot, window, lambda f: not f.playing)
    finally:
        window.shutdown()


def test_a_diverged_run_draws_its_last_finite_profile_and_says_from_which_step(qtbot):
    window = open_window(qtbot, [sine(5.0), sine(0.001)])  # lr 5 blows up at step 3
    try:
        window.worker.send("step", 10)
        frame = wait_frame(qtbot, window, lambda f: f.data.step == 10 and not f.playing)
        hot, cold = frame.data.runs
        assert hot.diverged and hot.profile.step == hot.diverged_at - 1
        # Its gradients, 1e17 and more, and the other run's, about 1, are all in view.
        flow = window.dashboard.plots["gradient-flow"]
        logs = np.log10(np.concatenate([hot.profile.grad_norm, cold.profile.grad_norm]))
        assert np.isfinite(logs).all() and logs.max() > 15
        (_, _), (low, high) = flow.plot.viewRange()
        assert low <= logs.min() and logs.max() <= high
        np.testing.assert_allclose(flow.curves[0].getData()[1], logs[: len(hot.profile.grad_norm)])
        drawn = f"(diverged at step {hot.diverged_at}, drawn at step {hot.profile.step})"
        assert legend_texts(flow)[0] == f"5 {drawn}"
        # Where the gradients part: over every block, all of it in view.
        part = window.dashboard.plots["gradient-difference"]
        assert np.isfinite(hot.difference).all() and hot.difference.max() > 10
        (_, _), (low, high) = part.plot.viewRange()
        assert low <= hot.difference.min() and hot.difference.max() <= high
        assert legend_texts(part) == [f"5 {drawn}", "0.001 (reference)"]
        assert legend_texts(window.dashboard.plots["loss"])[0] == (
            f"5 (diverged at step {hot.diverged_at})"
        )
    finally:
        window.shutdown()


def test_the_difference_key_says_when_no_block_is_finite_in_both(qtbot):
    comparison = Comparison([small_net("a"), small_net("b")])
    comparison.run(2)
    data = from_comparison(comparison)
    dashboard = ComparisonDashboard()
    qtbot.addWidget(dashboard)
    dashboard.show_data(data)
    part = dashboard.plots["gradient-difference"]
    assert legend_texts(part) == ["a (reference)", "b"]
    data.runs[1].difference[:] = np.nan  # as against a reference whose gradients are all zero
    dashboard.show_data(data)
    assert legend_texts(part) == ["a (reference)", "b: no block with finite gradients in both"]


def test_closing_the_window_stops_its_thread(qtbot):
    net = load_network(SPIRAL_SMALL)
    collecting = gc.isenabled()  # off if an earlier test left a main window's collector on
    window = open_comparison([net, net])  # deletes itself on close: not handed to qtbot
    worker = window.worker
    window.actions["play"].trigger()
    qtbot.waitUntil(lambda: window.frame is not None and window.frame.playing, timeout=20000)
    window.close()
    assert not worker.alive
    assert not [t for t in threading.enumerate() if t.name == "vgsim-compare"]
    assert gc.isenabled() == collecting  # the window's own collector handed it back


def test_a_window_deleted_with_its_parent_stops_its_thread(qtbot):
    parent = QWidget()
    collecting = gc.isenabled()
    window = ComparisonWindow(Comparison([load_network(SPIRAL_SMALL)] * 2), parent)
    worker = window.worker
    window.actions["play"].trigger()
    qtbot.waitUntil(lambda: window.frame is not None and window.frame.playing, timeout=20000)
    parent.deleteLater()  # no closeEvent for the child: only its `destroyed` signal
    qtbot.waitUntil(lambda: not worker.alive, timeout=5000)
    assert gc.isenabled() == collecting  # handed back once the thread had ended


def test_open_comparison_refuses_networks_with_different_data():
    net = load_network(SPIRAL_SMALL)
    other = net.copy()
    other.data = {**net.data, "samples": 300}
    with pytest.raises(ComparisonError, match="same data"):
        open_comparison([net, other])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_render_comparison_plots_writes_each_plot_as_png_and_svg(qtbot, tmp_path):
    nets = [load_network(EXAMPLES / f"{name}.json") for name in ("deep-sigmoid", "relu-he")]
    compare_networks(nets, 30, tmp_path / "cmp", seed=2)
    data = from_compare_dir(tmp_path / "cmp")
    # The files hold what the live comparison shows.
    live = Comparison(nets, seed=2)
    live.run(30)
    for run, profile in zip(data.runs, live.gradient_profiles().values(), strict=True):
        assert run.steps_done == 30 and run.types[0] == "input"
        np.testing.assert_allclose(run.profile.grad_norm, profile.grad_norm, rtol=1e-6)
    written = render_comparison_plots(data, tmp_path / "plots")
    assert [p.name for p in written] == [
        f"comparison-step30-{key}.{fmt}" for key in KEYS for fmt in ("png", "svg")
    ]
    labels = {
        "loss": "loss on the training set",
        "gradient-flow": "relative depth",
        "first-layer-gradient": "gradient norm",
        "gradient-difference": "log10(gradient / reference's)",
    }
    for key in KEYS:
        width, height = png_size(tmp_path / "plots" / f"comparison-step30-{key}.png")
        assert width > 600 and height > 300
        tree = ET.parse(tmp_path / "plots" / f"comparison-step30-{key}.svg")
        text = " ".join("".join(e.itertext()) for e in tree.iter() if e.tag.endswith("text"))
        assert labels[key] in text and "ReLU with He init" in text, key  # the key's name


def fully_shown(label: QLabel) -> bool:
    if label.wordWrap():
        return label.heightForWidth(label.width()) <= label.height()
    return label.sizeHint().width() <= label.width()


@pytest.mark.parametrize("size", [(1280, 720), (1600, 1000)])
def test_a_card_shows_its_whole_label_however_long(qtbot, size):
    labels = ["original from step 2,500", "branch from step 2,500 (lr 0.01, clip norm 0.5, 2 more)"]
    window = ComparisonWindow(Comparison([small_net("a"), small_net("b")], labels=labels))
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    try:
        window.worker.send("step", 2)
        wait_frame(qtbot, window, lambda f: f.data.step == 2)
        for card, label in zip(window.cards, labels, strict=True):
            assert label in card.title.text() and fully_shown(card.title), label
            assert "first layer" in card.status.text() or card is window.cards[0]
            assert fully_shown(card.status), card.status.text()
    finally:
        window.shutdown()
