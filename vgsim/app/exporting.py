"""The window's exports: plot images, the dashboard, metrics, state and the network.

Each export has a plain method (path in, file out; raises ExportError) used by tests and
scripts, and a `…_dialog` method that asks the user first. Data comes from the worker thread
through `TrainingController.call`, and is written by a background thread, so a large file never
freezes the window; slow exports show a progress dialog with Cancel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QRectF, QSettings, QTimer, Signal
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

from ..engine.errors import VgsimError
from ..engine.spec import Network, save_network
from ..engine.train import Trainer
from ..experiments.records import Cancelled, write_arrays, write_metrics
from .dialogs import ImageExportDialog
from .plots.animation import Animation
from .plots.dashboard import Dashboard
from .plots.export import (
    ExportError,
    ImageOptions,
    copy_plot,
    export_all,
    export_plot,
    file_stem,
    pixel_size,
    png_bytes,
    widget_image,
    write_file,
)
from .training import TrainingController

PROGRESS_AFTER_MS = 400  # quicker exports finish without a flashing dialog
POLL_MS = 50


class Job(QObject):
    """Work on a plain thread with a progress fraction and a cancel flag; `finished` carries
    a message (None on success) on the GUI thread."""

    finished = Signal(object)

    def __init__(self, work: Callable[[Callable[[float], bool]], str], parent: QObject):
        super().__init__(parent)
        self.fraction = 0.0
        self.cancelled = threading.Event()
        self.result: str | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._check)

    def start(self) -> None:
        self._thread.start()
        self._timer.start(POLL_MS)

    def _progress(self, fraction: float) -> bool:
        self.fraction = fraction
        return not self.cancelled.is_set()

    def _run(self, work: Callable[[Callable[[float], bool]], str]) -> None:
        try:
            self.result = work(self._progress)
        except Cancelled as exc:
            self.error = str(exc)
        except (ExportError, VgsimError) as exc:
            self.error = str(exc)
        except OSError as exc:
            self.error = f"Cannot write {exc.filename or 'the file'}: {exc.strerror or exc}."
        except Exception as exc:
            self.error = f"The export failed: {exc}"

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _check(self) -> None:
        if self.done:
            self._timer.stop()
            self.finished.emit(self.error)


class ExportController(QObject):
    message = Signal(str)  # a finished export, for the status bar
    failed = Signal(str)  # why an export did not happen; nothing half-written was left

    def __init__(
        self,
        window: QWidget,
        dashboard: Dashboard,
        area: QWidget,
        training: TrainingController,
        network: Callable[[], Network],
        settings: QSettings,
    ):
        super().__init__(window)
        self.window, self.dashboard, self.area = window, dashboard, area
        self.training, self.network, self.settings = training, network, settings
        self.jobs: list[Job] = []
        self.recording: Animation | None = None
        self.show_errors = True  # tests read `failed` instead of a message box
        dashboard.export_requested.connect(self.export_plot_dialog)
        dashboard.copy_requested.connect(self.copy_plot)
        self.failed.connect(self._report)

    # --- names --------------------------------------------------------------------------------
    def stem(self) -> str:
        frame = self.training.frame
        return file_stem(self.network().name, frame.step_count if frame else 0)

    def folder(self) -> Path:
        return Path(str(self.settings.value("export_folder", str(Path.home()))))

    def _remember(self, path: Path) -> None:
        self.settings.setValue("export_folder", str(path if path.is_dir() else path.parent))

    # --- plots --------------------------------------------------------------------------------
    def export_plot(self, key: str, path: str | Path, options: ImageOptions | None = None) -> Path:
        return export_plot(self.dashboard.plot_items()[key], path, options)

    def copy_plot(self, key: str) -> None:
        copy_plot(self.dashboard.plot_items()[key])
        self.message.emit(f"Copied the {key.replace('-', ' ')} plot to the clipboard.")

    def export_plot_dialog(self, key: str) -> None:
        item = self.dashboard.plot_items()[key]
        dialog = ImageExportDialog(
            self.window,
            "Export image",
            self.folder() / f"{self.stem()}-{key}.png",
            lambda scale: pixel_size(item, scale),
        )
        if dialog.exec():
            self._guarded(lambda: self.export_plot(key, dialog.chosen_path(), dialog.options()))

    def export_all_plots(
        self,
        folder: str | Path,
        options: ImageOptions | None = None,
        progress: Callable[[int, int], bool] | None = None,
    ) -> list[Path]:
        # Every plot, those on other tabs too, laid out as `vgsim run --plots` lays them out.
        with self.dashboard.every_plot():
            self.dashboard.fit_steps()  # as `vgsim run --plots` draws them
            return export_all(
                self.dashboard.plot_items(),
                folder,
                self.stem(),
                options=options,
                progress=progress,
            )

    def export_all_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Export all plots to a folder", str(self.folder())
        )
        if not folder:
            return
        dialog = QProgressDialog("Exporting plots…", "Cancel", 0, 1, self.window)
        dialog.setWindowTitle("Export all plots")
        dialog.setMinimumDuration(PROGRESS_AFTER_MS)

        def progress(done: int, total: int) -> bool:
            dialog.setMaximum(total)
            dialog.setValue(done)
            QApplication.processEvents()  # drawing needs this thread: keep the dialog alive
            return not dialog.wasCanceled()

        written = self._guarded(lambda: self.export_all_plots(folder, progress=progress))
        dialog.close()
        if written is not None:
            self._remember(Path(folder))
            self.message.emit(f"Wrote {len(written)} files to {folder}.")

    # --- animation ----------------------------------------------------------------------------
    def start_recording(self, key: str = "gradient-flow") -> None:
        """Capture `key` each time the view redraws (at most 10 a second) until stopped."""
        self.dashboard.reveal(key)  # on screen: a plot on another tab is not drawn
        self.recording = Animation(self.dashboard.plot_items()[key])
        self.recording.capture(force=True)
        self.training.frame_ready.connect(self._capture)
        self.message.emit("Recording the plot as it changes: train, then stop the recording.")

    def _capture(self, _frame: object) -> None:
        if self.recording is not None:
            self.recording.capture()

    def stop_recording(self, path: str | Path | None) -> Path | None:
        """Stop; save the frames as a GIF at `path` (None: discard them)."""
        if self.recording is None:
            return None
        self.training.frame_ready.disconnect(self._capture)
        movie, self.recording = self.recording, None
        return movie.save(path) if path is not None else None

    def record_toggled(self, on: bool) -> None:
        if on:
            self.start_recording()
            return
        frames = len(self.recording.frames) if self.recording else 0
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            f"Save the animation ({frames} frames)",
            str(self.folder() / f"{self.stem()}-gradient-flow.gif"),
            "Animated GIF (*.gif)",
        )
        saved = self._guarded(lambda: self.stop_recording(path or None))
        if saved:
            self._remember(Path(saved))
            self.message.emit(f"Wrote {saved}.")

    # --- the dashboard area (canvas and plots) ------------------------------------------------
    def export_dashboard(self, path: str | Path, options: ImageOptions | None = None) -> Path:
        path = Path(path)
        kind = path.suffix.lower()
        if kind == ".png":
            return write_file(path, png_bytes(widget_image(self.area, options)))
        if kind == ".svg":
            return write_file(path, self._area_svg())
        raise ExportError(
            f"Cannot export the dashboard as '{path.suffix or path.name}': "
            "choose a .png or .svg file."
        )

    def _area_svg(self) -> bytes:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(self.area.size())
        generator.setViewBox(QRectF(0, 0, self.area.width(), self.area.height()))
        generator.setTitle(self.network().name)
        painter = QPainter(generator)
        try:
            self.area.render(painter, QPoint(0, 0))
        finally:
            painter.end()
        return bytes(data.data())

    def export_dashboard_dialog(self) -> None:
        dialog = ImageExportDialog(
            self.window,
            "Export dashboard",
            self.folder() / f"{self.stem()}-dashboard.png",
            lambda scale: self.area.size() * scale,
        )
        if dialog.exec():
            self._guarded(lambda: self.export_dashboard(dialog.chosen_path(), dialog.options()))

    # --- data ---------------------------------------------------------------------------------
    def export_metrics(self, path: str | Path) -> Job:
        """metrics.csv of the run so far (steps older than the last 2048 are thinned out)."""
        future = self.training.call(lambda t: (list(t.node_ids), *t.history.rows()[1:]))

        def work(progress: Callable[[float], bool]) -> str:
            ids, scalars, stats = future.result()
            write_metrics(path, ids, scalars, stats, progress)
            return f"Wrote {len(scalars)} steps of metrics to {path}."

        return self._start(work)

    def export_state(self, path: str | Path) -> Job:
        """The state now, under the keys of `vgsim run --dump-state`."""
        future: Future = self.training.call(Trainer.snapshot_state)

        def work(progress: Callable[[float], bool]) -> str:
            write_arrays(path, future.result())
            return f"Wrote the current state to {path}."

        return self._start(work)

    def export_network(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            save_network(self.network(), path)
        except OSError as exc:
            raise ExportError(
                f"Cannot write {path}: {exc.strerror or exc}. Nothing was written there."
            ) from exc
        return path

    def _data_dialog(
        self, title: str, suffix: str, filters: str, export: Callable[[Path], object]
    ) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, title, str(self.folder() / f"{self.stem()}{suffix}"), filters
        )
        if path:
            self._remember(Path(path))
            self._guarded(lambda: export(Path(path)))

    def export_metrics_dialog(self) -> None:
        self._data_dialog("Export metrics", "-metrics.csv", "CSV (*.csv)", self.export_metrics)

    def export_state_dialog(self) -> None:
        self._data_dialog("Export state", "-state.npz", "NumPy arrays (*.npz)", self.export_state)

    def export_network_dialog(self) -> None:
        self._data_dialog("Export network", ".json", "vgsim networks (*.json)", self.export_network)

    # --- plumbing -----------------------------------------------------------------------------
    def _start(self, work: Callable[[Callable[[float], bool]], str]) -> Job:
        job = Job(work, self)
        dialog = QProgressDialog("Exporting…", "Cancel", 0, 100, self.window)
        dialog.setMinimumDuration(PROGRESS_AFTER_MS)
        dialog.canceled.connect(job.cancelled.set)
        ticker = QTimer(job)
        ticker.timeout.connect(lambda: dialog.setValue(int(100 * job.fraction)))
        ticker.start(POLL_MS)

        def finish(error: str | None) -> None:
            ticker.stop()
            dialog.reset()
            dialog.deleteLater()
            self.jobs.remove(job)
            if error and job.cancelled.is_set():
                self.message.emit(error)  # the user's own choice: no warning
            elif error:
                self.failed.emit(error)
            elif job.result:
                self.message.emit(job.result)

        job.finished.connect(finish)
        self.jobs.append(job)
        job.start()
        return job

    def _guarded(self, export: Callable[[], object]) -> object | None:
        try:
            return export()
        except (ExportError, VgsimError) as exc:
            self.failed.emit(str(exc))
            return None

    def _report(self, text: str) -> None:
        if self.show_errors:
            QMessageBox.warning(self.window, "Export", text)
