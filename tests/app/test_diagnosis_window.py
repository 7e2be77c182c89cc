"""The window's Diagnosis panel: the same findings as the headless function for the same steps,
a learning rate too high with its one-click (undoable) remedy, and no "Healthy" for a network
whose loss is stuck at chance level."""

from __future__ import annotations

from pathlib import Path

from windows import trainer, wait_frame

from vgsim.engine import read_network
from vgsim.engine.builders import residual_mlp
from vgsim.engine.diagnose import LEARN_STEPS, diagnose, finding_from_dict
from vgsim.experiments.runs import run_network

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def panel_text(panel) -> str:
    from PySide6.QtWidgets import QLabel

    widgets = [panel.column.itemAt(i).widget() for i in range(panel.column.count())]
    labels = [w for w in widgets if isinstance(w, QLabel)]
    labels += [x for w in widgets if w is not None for x in w.findChildren(QLabel)]
    return " ".join(label.text() for label in labels)


def run_until(qtbot, window, steps: int) -> None:
    """Train up to step count `steps` (Run until counts steps from where the run stands)."""
    window.training.run_until("steps", steps - window.training.frame.step_count)
    wait_frame(
        qtbot,
        window,
        lambda f: not f.playing and f.step_count == steps and f.diagnosed_at == steps,
        timeout=60000,
    )


def test_the_window_shows_the_findings_of_the_headless_function(window, qtbot, tmp_path):
    """Case 6 in the window: the panel's findings are those `vgsim run` writes for the same
    network and steps, and it never says "Healthy"."""
    net = residual_mlp(
        4,
        32,
        3,
        activation="sigmoid",
        init="standard",
        training={"optimizer": "sgd", "lr": 0.5, "seed": 0},
    )
    window.editor.load(net, None)
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and len(f.nodes[0]) == len(net.nodes))
    run_until(qtbot, window, LEARN_STEPS + 100)
    shown = window.diagnosis.findings
    assert [f.kind for f in shown] == ["not_learning"]
    assert shown == tuple(diagnose(trainer(window)))
    summary = run_network(net, LEARN_STEPS + 100, tmp_path / "run")
    assert shown == tuple(finding_from_dict(f) for f in summary["findings"])
    text = panel_text(window.diagnosis)
    assert "Not learning" in text and "ln 3" in text and "Healthy" not in text


def test_a_learning_rate_raised_to_100_offers_lower_lr_as_one_undoable_click(window, qtbot):
    """Case 7: the deep sigmoid network, its learning rate raised to 100 mid-run."""
    net = read_network(EXAMPLES / "deep-sigmoid.json")
    window.editor.load(net, None)
    wait_frame(qtbot, window, lambda f: f.step_count == 0 and len(f.nodes[0]) == len(net.nodes))
    run_until(qtbot, window, 200)
    assert "lr_too_high" not in [f.kind for f in window.diagnosis.findings]
    raised = {**window.editor.model.network.training, "lr": 100.0}
    window.editor.set_section("training", raised)  # as typing 100 into Learning rate does
    qtbot.waitUntil(lambda: trainer(window).cfg["lr"] == 100.0)
    run_until(qtbot, window, 260)  # a live setting: the same run goes on
    qtbot.waitUntil(lambda: "lower_lr" in window.diagnosis.buttons)
    first = window.diagnosis.findings[0]
    assert first.kind == "lr_too_high" and first.remedies[0].key == "lower_lr"
    assert window.diagnosis.buttons["lower_lr"].full_text == "Lower the learning rate (to 10)"
    window.diagnosis.buttons["lower_lr"].click()
    assert window.editor.model.network.training["lr"] == 10.0
    qtbot.waitUntil(lambda: trainer(window).cfg["lr"] == 10.0)
    window.editor.undo.undo()
    assert window.editor.model.network.training["lr"] == 100.0
    qtbot.waitUntil(lambda: trainer(window).cfg["lr"] == 100.0)


def test_healthy_only_once_the_loss_has_been_judged(qtbot):
    from vgsim.app.panels.diagnosis import DiagnosisPanel

    panel = DiagnosisPanel()
    qtbot.addWidget(panel)
    panel.show_findings((), steps=2)
    assert "Train a few steps" in panel_text(panel)
    panel.show_findings((), steps=100)
    assert "Healthy so far" in panel_text(panel) and f"{LEARN_STEPS:,}" in panel_text(panel)
    panel.show_findings((), steps=LEARN_STEPS)
    assert "loss is below chance level" in panel_text(panel)
