"""Exports: plot images (PNG/SVG), the dashboard, the clipboard, data files, headless plots."""

from __future__ import annotations

import errno
import struct
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QGuiApplication, QImage
from windows import wait_frame

from vgsim.app.files import RESOURCES
from vgsim.app.plots.export import CHROME, ExportError, ImageOptions, pixel_size
from vgsim.cli import main as cli
from vgsim.engine import load_network, save_network
from vgsim.engine.lessons import list_lessons
from vgsim.experiments.plot_sources import from_run
from vgsim.experiments.records import write_metrics

STEPS = 40


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # raises if it is not well-formed XML
    assert root.tag.endswith("svg")
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def trained(window, qtbot, steps: int = STEPS):
    window.training.run_until("steps", steps)
    return wait_frame(qtbot, window, lambda f: f.step_count == steps and not f.playing)


def no_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()] if folder.exists() else []


def test_plot_png_has_the_requested_scale_and_background(window, qtbot, tmp_path):
    trained(window, qtbot)
    item = window.dashboard.plot_items()["gradient-flow"]
    expected = pixel_size(item, 3.0)
    path = window.exports.export_plot(
        "gradient-flow", tmp_path / "flow.png", ImageOptions(scale=3.0)
    )
    assert png_size(path) == (expected.width(), expected.height())
    assert expected.width() > 3 * 200
    white = QImage(str(path))
    assert white.pixelColor(1, 1).alpha() == 255 and white.pixelColor(1, 1).lightness() == 255
    clear = window.exports.export_plot(
        "gradient-flow", tmp_path / "clear.png", ImageOptions(scale=1.0, transparent=True)
    )
    assert QImage(str(clear)).pixelColor(1, 1).alpha() == 0


def test_plot_svg_is_xml_with_the_axis_labels_and_title(window, qtbot, tmp_path):
    trained(window, qtbot)
    text = svg_text(window.exports.export_plot("gradient-flow", tmp_path / "flow.svg"))
    for words in (
        "Gradient flow",
        "layer (input → output)",
        "gradient norm",
        "backprop",
        "weight gradient",
    ):
        assert words in text
    heat = svg_text(window.exports.export_plot("gradient-history", tmp_path / "heat.svg"))
    assert "log10 gradient norm" in heat  # the colour bar's label comes with the plot


def test_the_export_button_is_left_out_of_the_figure_and_comes_back(window, qtbot, tmp_path):
    trained(window, qtbot)
    key = "gradient-flow"  # on every first tab, so on screen
    item = window.dashboard.plot_items()[key]
    button = window.dashboard.export_buttons[key]
    assert getattr(button, CHROME) and button.isVisible()
    corner = button.mapRectToItem(item, button.boundingRect()).toAlignedRect()

    def corner_pixels(path: Path) -> set[tuple[int, int, int]]:
        image = QImage(str(path))
        return {
            image.pixelColor(x, y).getRgb()[:3]
            for x in range(corner.left(), corner.right())
            for y in range(corner.top(), corner.bottom())
        }

    one = ImageOptions(scale=1.0)  # a pixel of the figure per unit of the plot
    figure = corner_pixels(window.exports.export_plot(key, tmp_path / "flow.png", one))
    assert figure == {(255, 255, 255)}  # the plot's top-right corner, blank
    assert button.isVisible()  # back on screen
    setattr(button, CHROME, False)  # the same export, were the button part of the figure
    try:
        with_button = corner_pixels(window.exports.export_plot(key, tmp_path / "b.png", one))
    finally:
        setattr(button, CHROME, True)
    assert with_button != figure  # so the corner is where the button would have shown
    menu_texts = [a.text() for a in item.getViewBox().menu.actions()]
    assert "Export image…" in menu_texts and "Copy image" in menu_texts


def test_an_unwritable_path_gives_a_clear_error_and_leaves_nothing(window, qtbot, tmp_path):
    trained(window, qtbot)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ExportError, match="Cannot write .*not-a-folder"):
        window.exports.export_plot("loss", blocker / "loss.png")
    with pytest.raises(ExportError, match="choose a .png or .svg"):
        window.exports.export_plot("loss", tmp_path / "loss.jpg")
    assert no_leftovers(tmp_path) == ["not-a-folder"]


def test_a_full_disk_leaves_no_partial_file(window, qtbot, tmp_path, monkeypatch):
    trained(window, qtbot)

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])  # something reached the disk before it filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(ExportError, match="No space left on device"):
        window.exports.export_plot("loss", tmp_path / "loss.png")
    assert no_leftovers(tmp_path) == []


def test_export_all_writes_a_png_and_an_svg_of_every_plot_and_can_be_cancelled(
    window, qtbot, tmp_path
):
    trained(window, qtbot)
    written = window.exports.export_all_plots(tmp_path / "all")
    keys = window.dashboard.plot_items()
    assert len(written) == 2 * len(keys) == 18
    stem = f"{window.exports.stem()}-"
    assert stem.endswith(f"-step{STEPS}-")
    for key in keys:
        assert png_size(tmp_path / "all" / f"{stem}{key}.png")[0] > 400
        assert svg_text(tmp_path / "all" / f"{stem}{key}.svg")
    stopped = window.exports.export_all_plots(
        tmp_path / "some", progress=lambda done, total: done < 3
    )
    assert len(stopped) == 3 and len(no_leftovers(tmp_path / "some")) == 3


def same_pixels(a: Path, b: Path) -> bool:
    return QImage(str(a)) == QImage(str(b))


@pytest.mark.slow  # a headless run and every plot drawn twice: about 7 s
def test_headless_plots_show_what_the_window_exports(window, qtbot, tmp_path):
    frame = trained(window, qtbot)
    net_file = tmp_path / "net.json"
    save_network(window.editor.model.snapshot(), net_file)
    window.exports.export_all_plots(tmp_path / "window")
    run = tmp_path / "run"
    args = ["run", str(net_file), "--steps", str(STEPS), "--out", str(run), "--quiet"]
    assert cli([*args, "--plots", "png,svg"]) == 0
    headless = sorted(p.name for p in (run / "plots").iterdir())
    assert headless == sorted(no_leftovers(tmp_path / "window"))  # the same set of figures
    # ... of the same figures: what the window draws is what the run folder holds.
    live, back = window.training.plot_data(frame), from_run(run)
    assert (back.node_ids, back.step) == (live.node_ids, live.step)
    np.testing.assert_array_equal(back.tail_steps, live.tail_steps)
    np.testing.assert_allclose(back.tail_scalars, live.tail_scalars, rtol=1e-6)
    np.testing.assert_allclose(back.tail_figures, live.tail_figures, rtol=1e-6)
    np.testing.assert_array_equal(back.histograms, live.histograms)
    np.testing.assert_allclose(back.boundary["outputs"], live.boundary["outputs"], rtol=1e-6)
    np.testing.assert_allclose(back.theory, live.theory, rtol=1e-6)
    # export-plots draws a run folder's figures again, pixel for pixel.
    assert cli(["export-plots", str(run), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    assert sorted(no_leftovers(tmp_path / "again")) == headless
    for name in headless:
        if name.endswith(".png"):
            assert same_pixels(tmp_path / "again" / name, run / "plots" / name), name


def test_export_plots_draws_a_comparison_again_pixel_for_pixel(tmp_path):
    lesson = list_lessons(RESOURCES / "lessons")[0]
    cmp = tmp_path / "cmp"
    files = [str(lesson.path), str(lesson.fixes[0])]
    assert cli(["compare", *files, "--steps", "20", "--out", str(cmp), "--plots", "png"]) == 0
    drawn = sorted(p.name for p in (cmp / "plots").iterdir())
    assert len(drawn) == 4  # which ones: tests/app/test_compare.py
    again = tmp_path / "again"
    assert cli(["export-plots", str(cmp), "--out", str(again), "--plots", "png", "--quiet"]) == 0
    assert sorted(p.name for p in again.iterdir()) == drawn
    for name in drawn:
        assert same_pixels(again / name, cmp / "plots" / name), name


def test_window_metrics_are_its_runs_history_byte_for_byte(window, qtbot, tmp_path):
    # That a history written as metrics equals a headless run's: tests/engine/test_records.py.
    trained(window, qtbot)
    job = window.exports.export_metrics(tmp_path / "window.csv")
    qtbot.waitUntil(lambda: job.done and job not in window.exports.jobs, timeout=20000)
    assert job.error is None
    ids, (_, scalars, stats) = window.training.call(
        lambda t: (list(t.node_ids), t.history.rows())
    ).result(20)
    assert len(scalars) == STEPS
    write_metrics(tmp_path / "history.csv", ids, scalars, stats)
    assert (tmp_path / "window.csv").read_bytes() == (tmp_path / "history.csv").read_bytes()


def test_state_and_network_exports_use_the_dump_keys_and_the_file_format(window, qtbot, tmp_path):
    trained(window, qtbot, 5)
    net_file = tmp_path / "net.json"
    window.exports.export_network(net_file)
    assert (
        load_network(net_file).to_dict()["nodes"]
        == window.editor.model.snapshot().to_dict()["nodes"]
    )
    job = window.exports.export_state(tmp_path / "state.npz")
    qtbot.waitUntil(lambda: job.done and job not in window.exports.jobs, timeout=20000)
    assert (
        cli(
            [
                "run",
                str(net_file),
                "--steps",
                "3",
                "--out",
                str(tmp_path / "run"),
                "--dump-state",
                str(tmp_path / "dump.npz"),
                "--dump-at",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    with np.load(tmp_path / "state.npz") as ours, np.load(tmp_path / "dump.npz") as dump:
        assert set(dump.files) <= set(ours.files)
        for key in dump.files:
            assert ours[key].shape == dump[key].shape, key


def test_a_cancelled_metrics_export_stops_and_says_so(window, qtbot, tmp_path):
    # That a cancelled write leaves no file behind: tests/engine/test_records.py.
    trained(window, qtbot)
    hold = threading.Event()
    window.training.call(lambda _trainer: hold.wait(10))  # the worker is busy until released
    job = window.exports.export_metrics(tmp_path / "metrics.csv")
    job.cancelled.set()
    hold.set()
    qtbot.waitUntil(lambda: job.done and job not in window.exports.jobs, timeout=20000)
    assert job.error is not None and "Stopped" in job.error


def test_dashboard_image_and_clipboard(window, qtbot, tmp_path):
    trained(window, qtbot)
    area = window.splitter.size()
    path = window.exports.export_dashboard(tmp_path / "dash.png", ImageOptions(scale=2.0))
    assert png_size(path) == (2 * area.width(), 2 * area.height())
    shown = window.dashboard.plots[window.dashboard.shown_keys()[0]].title
    assert shown in svg_text(window.exports.export_dashboard(tmp_path / "dash.svg"))
    window.exports.copy_plot("loss")
    image = QGuiApplication.clipboard().image()
    expected = pixel_size(window.dashboard.plot_items()["loss"], 2.0)
    assert (image.width(), image.height()) == (expected.width(), expected.height())


def test_export_plots_of_a_folder_that_is_not_a_run_says_so(tmp_path, capsys):
    assert cli(["export-plots", str(tmp_path)]) == 2
    assert "not a finished run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli(["export-plots", str(tmp_path), "--plots", "gif"])
    assert stop.value.code == 2


def test_the_image_dialog_shows_the_pixel_size_and_returns_the_options(window, qtbot, tmp_path):
    from vgsim.app.dialogs import ImageExportDialog

    item = window.dashboard.plot_items()["loss"]
    dialog = ImageExportDialog(
        window, "Export image", tmp_path / "loss.png", lambda scale: pixel_size(item, scale)
    )
    qtbot.addWidget(dialog)
    at_two = pixel_size(item, 2.0)
    assert dialog.size_label.text() == f"{at_two.width()} × {at_two.height()} pixels"
    dialog.scale.setValue(4.0)
    dialog.background.setCurrentText("Transparent")
    assert dialog.size_label.text().startswith(f"{pixel_size(item, 4.0).width()} ×")
    assert dialog.options() == ImageOptions(scale=4.0, transparent=True)
    dialog.path.setText(str(tmp_path / "loss.svg"))
    assert "vector" in dialog.size_label.text()
    assert dialog.chosen_path() == tmp_path / "loss.svg"


def gif_frames(path: Path) -> tuple[tuple[int, int], int]:
    from PIL import Image

    assert path.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    with Image.open(path) as image:
        return image.size, image.n_frames


def test_headless_animation_has_one_frame_per_mark_after_the_start(tmp_path, capsys):
    net = tmp_path / "net.json"
    from vgsim.engine.builders import mlp

    save_network(mlp(3, 8, 3, training={"batch_size": 16}), net)
    assert (
        cli(
            [
                "animate",
                str(net),
                "--steps",
                "30",
                "--frames",
                "7",
                "--quiet",
                "--out",
                str(tmp_path / "flow.gif"),
            ]
        )
        == 0
    )
    size, frames = gif_frames(tmp_path / "flow.gif")
    assert frames == 6 and size[0] > 300  # marks 0, 5, ..., 30: no picture before step 1
    assert (
        cli(
            [
                "animate",
                str(net),
                "--steps",
                "5",
                "--plot",
                "nope",
                "--out",
                str(tmp_path / "x.gif"),
            ]
        )
        == 2
    )
    assert "No plot called 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


def test_recording_in_the_window_captures_the_plot_as_it_changes(window, qtbot, tmp_path):
    trained(window, qtbot, 1)
    window.exports.start_recording("gradient-flow")
    for step in range(2, 6):
        window.actions["step"].trigger()
        wait_frame(qtbot, window, lambda f, s=step: f.step_count == s)
        qtbot.wait(120)  # captures are at most 10 a second
    blocker = tmp_path / "file"
    blocker.write_text("")
    movie = window.exports.recording
    assert len(movie.frames) >= 3
    with pytest.raises(ExportError):
        movie.save(blocker / "flow.gif")
    path = window.exports.stop_recording(tmp_path / "flow.gif")
    assert gif_frames(path)[1] >= 3 and window.exports.recording is None
