"""How the main window draws a frame of its run: the plots, the canvas tint, the diagnosis, the
status line, and a micro-step's phase (mixed into MainWindow, whose widgets it fills)."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from .canvas.tint import apply_figures
from .worker import Frame, planned_steps

PREPARING_AFTER_MS = 300
TINT_SECONDS = 0.1


class FrameDrawing:
    _tinted_at = 0.0
    _diagnosis_seen = False
    _run_drawn: int | None = None  # the run the plots were last set up for

    def _show_frame(self, frame: Frame) -> None:
        if not self.timeline.accepts(frame):
            return  # of another step than the timeline's
        if frame.building:
            # Say so only if it takes a while: a warm build is over before anyone could read it.
            QTimer.singleShot(PREPARING_AFTER_MS, self._show_preparing)
            return
        if self.preparing.isVisible():
            self.preparing.hide()
            self.statusBar().clearMessage()
        if frame.error:
            self.statusBar().showMessage(frame.error, 10000)
        ids = list(frame.nodes[0])
        if not ids:  # no trainer (it could not be built): nothing to draw
            self._update_play()
            return
        if self.play_reason.text() in ("", "Preparing: training can start in a moment"):
            self._update_play()  # ready now
        micro = frame.phase is not None
        data = self.training.plot_data(frame)
        if frame.run != self._run_drawn:
            self._run_drawn = frame.run
            self.dashboard.start_run(data, planned_steps(frame.network))
        stats = frame.live_stats if micro else data.node_stats
        self.dashboard.show_data(
            data,
            stats=stats,
            hist=frame.live_hist if micro else None,
            everything=not frame.playing,
        )
        self.timeline.shown(frame)
        now = time.perf_counter()
        if not frame.playing or now - self._tinted_at >= TINT_SECONDS:
            # Repainting every block is a third of a frame: while playing, 10 times a second.
            self._tinted_at = now
            apply_figures(self.scene, ids, stats)
            self.view.gradient_key.setVisible(stats is not None)
        # Until the diagnosis has seen a few steps it says nothing, so no verdict either way.
        self.diagnosis.show_findings(frame.findings, steps=frame.diagnosed_at)
        if frame.findings and not self._diagnosis_seen:
            self._diagnosis_seen = True
            self.diagnosis_dock.raise_()
        self.actions["play"].setText("Pause" if frame.playing else "Play")
        record = frame.record
        loss = f"{record.loss:.4g}" if record is not None else "–"
        rate = f" · {frame.steps_per_second:,.0f} steps/s" if frame.playing else ""
        self.progress_label.setText(
            f"step {frame.step_count} · epoch {frame.epoch} · loss {loss}{rate}"
        )
        if record is not None and record.divergence is not None:
            # The run ended early: step axes planned for thousands of steps would hide the few
            # it took on their left edge.
            self.dashboard.fit_steps()
            self.phase_label.setText(f"✖ {record.divergence.message()} Reset (R) to start again.")
            self.phase_label.setStyleSheet("color: #b3261e")
            self.scene.highlight(record.divergence.node)
            self.play_reason.setText("Diverged: Reset (R) to train again")
            self.play_reason.setStyleSheet("color: #b3261e")
        elif micro:
            self._show_micro(frame)
        else:
            self.phase_label.setText("")
            self.scene.highlight(None)

    def _show_micro(self, frame: Frame) -> None:
        phase, node = frame.phase, frame.node
        done = frame.next_phase is None
        # Short: the status bar has room for one line beside the step counter.
        words = {
            "forward": f"Forward: {node} computed",
            "loss": "Loss computed: the gradient starts at the output",
            "backward": f"Backward: gradient through {node}",
            "update": "Update: weights changed, step complete",
        }
        text = words.get(str(phase), str(phase))
        if frame.next_phase is not None and not done:
            nxt_phase, nxt_node = frame.next_phase
            text += f" · next: {nxt_phase}" + (f" {nxt_node}" if nxt_node else "")
        self.phase_label.setText(text)
        self.phase_label.setStyleSheet("color: #1a73e8")
        self.scene.highlight(node)
        if node is not None and phase in ("forward", "backward"):
            self.scene.pulse(node, backward=phase == "backward")

    def _show_preparing(self) -> None:
        frame = self.training.frame
        if frame is not None and frame.building:
            self.preparing.show()
            self.play_reason.setText("Preparing: training can start in a moment")
            self.play_reason.setStyleSheet("color: #b06000")
            self.statusBar().showMessage(
                "Preparing the training kernels (compiled on the first run only, about 15 s)…"
            )
