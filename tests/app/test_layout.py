"""The window on a laptop screen and on large ones: every plot shown is readable (its data area
at least MIN_VIEW_HEIGHT tall, no tick labels on top of each other), the canvas key covers no
block, the palette shows every entry, blocks stay legible and in view."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QRectF
from PySide6.QtGui import QFontMetricsF, QPainter, QPicture
from PySide6.QtWidgets import QApplication
from windows import wait_frame

from vgsim.app.canvas.items import FULL_DETAIL, LABEL_ROOM, NodeItem, short_name
from vgsim.app.canvas.view import MIN_FIT_ZOOM
from vgsim.app.files import RESOURCES
from vgsim.app.plots.pages import ALL, EVERYTHING, LESSON, MIN_VIEW_HEIGHT, choose_cells
from vgsim.engine.builders import mlp, residual_mlp
from vgsim.engine.spec import read_network

SIZES = [(1280, 720), (1366, 768), (1600, 1000), (2560, 1440)]


def settle(qtbot, window, width: int, height: int) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.size().width() == width, timeout=5000)
    for _ in range(3):  # layouts, then the pages' and the view's deferred refits
        qtbot.wait(30)
        QApplication.processEvents()


def open_lesson_1(window, qtbot) -> None:
    lesson = next(x for x in window.lessons.lessons if x.order == 1)
    assert window.open_lesson(lesson)
    wait_frame(qtbot, window, lambda f: not f.building and f.nodes[0] and "act8" in f.nodes[0])
    window.training.run_until("steps", 30)
    wait_frame(qtbot, window, lambda f: f.step_count >= 30 and not f.playing)


def tick_labels(axis) -> list[QRectF]:
    """The rectangles of the tick labels the axis draws, in scene coordinates."""
    picture = QPicture()
    painter = QPainter(picture)
    try:
        if axis.style["tickFont"]:
            painter.setFont(axis.style["tickFont"])
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    if specs is None:
        return []
    return [axis.mapRectToScene(rect) for rect, _flags, _text in specs[2]]


def overlaps(rects: list[QRectF]) -> list[tuple[QRectF, QRectF]]:
    return [
        (a, b)
        for i, a in enumerate(rects)
        for b in rects[i + 1 :]
        if a.adjusted(0.5, 0.5, -0.5, -0.5).intersects(b.adjusted(0.5, 0.5, -0.5, -0.5))
    ]


def check_shown_plots(window, where: str) -> list[str]:
    """Every plot laid out on the current page: tall enough, its tick labels apart."""
    dash = window.dashboard
    shown = dash.shown_keys()
    assert shown, where
    for key in shown:
        item = dash.plot_items()[key]
        assert item.isVisible(), (where, key)
        view = item.getViewBox().sceneBoundingRect()
        assert view.height() >= MIN_VIEW_HEIGHT, (where, key, view.height())
        axes = [item.getAxis("left"), item.getAxis("bottom")]
        # Room for the tick labels (pyqtgraph sizes an axis changed while hidden to nothing).
        assert axes[0].width() > 20 and axes[1].height() > 20, (where, key)
        bar = getattr(dash.plots[key], "bar", None)  # a colour bar's own axis
        if bar is not None:
            axes.append(bar.axis)
        for axis in axes:
            crowded = overlaps(tick_labels(axis))
            assert not crowded, (where, key, axis.orientation, crowded)
        inside = dash.ci.sceneBoundingRect().adjusted(-1, -1, 1, 1)  # not cut at the edge
        for axis in axes[:2]:
            for rect in tick_labels(axis):
                assert inside.contains(rect), (where, key, axis.orientation, rect, inside)
    for key in ALL:
        if key not in shown:
            assert not dash.plot_items()[key].isVisible(), (where, key)
    return shown


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_plot_on_every_tab_is_readable(window, qtbot, width, height):
    open_lesson_1(window, qtbot)
    settle(qtbot, window, width, height)
    pages = window.plot_pages
    assert pages.page() == LESSON  # the lesson's framed plots come first
    lesson = check_shown_plots(window, f"{width}x{height} lesson")
    framed = pages.lesson_keys
    assert lesson[: len(framed)] == framed
    item = window.dashboard.plot_items()
    smallest_framed = min(item[k].getViewBox().height() for k in framed)
    others = [k for k in lesson if k not in framed]
    if others:  # a big screen: the rest of the plots join, smaller than the framed ones
        assert smallest_framed > max(item[k].getViewBox().height() for k in others)
    for index in range(pages.tabs.count()):
        page = pages.tabs.tabData(index)
        pages.show_page(page)
        QApplication.processEvents()
        check_shown_plots(window, f"{width}x{height} {page}")
        assert set(window.dashboard.shown_keys()) >= set(pages.keys(page))


def test_all_the_plots_show_at_once_where_they_fit_and_scroll_where_they_do_not(window, qtbot):
    settle(qtbot, window, 2560, 1440)
    pages = window.plot_pages
    pages.show_page(EVERYTHING)
    QApplication.processEvents()
    assert not pages.scrolls()
    settle(qtbot, window, 1280, 720)
    assert pages.scrolls()  # nine readable plots do not fit: the page scrolls instead
    check_shown_plots(window, "1280x720 all")


def test_a_page_fills_the_room_whatever_page_came_before(window, qtbot):
    settle(qtbot, window, 1280, 720)
    pages, dash = window.plot_pages, window.dashboard
    for page in (EVERYTHING, "gradients"):  # five rows of plots, then two
        pages.show_page(page)
        QApplication.processEvents()
    items = [dash.plot_items()[key].geometry() for key in dash.shown_keys()]
    _left, _top, right, bottom = dash.ci.layout.getContentsMargins()
    room = dash.ci.geometry()
    assert max(r.bottom() for r in items) == pytest.approx(room.height() - bottom, abs=1)
    assert max(r.right() for r in items) == pytest.approx(room.width() - right, abs=1)


def test_the_chosen_layout_never_promises_less_than_the_minimum():
    for width in range(300, 2200, 97):
        for height in range(150, 1200, 83):
            for n in range(1, 10):
                arrangement = choose_cells(ALL[:n], width, height, featured=n > 2)
                assert arrangement.smallest >= MIN_VIEW_HEIGHT - 1e-6 or (
                    arrangement.height > height  # it scrolls instead
                ), (width, height, n)
                cells = {(c.row, c.col) for c in arrangement.cells}
                assert len(cells) == n  # one plot to a cell


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1600, 1000), (2560, 1440)])
def test_the_canvas_key_covers_no_block_and_the_canvas_refits(window, qtbot, width, height):
    open_lesson_1(window, qtbot)
    settle(qtbot, window, width, height)
    key = window.view.gradient_key
    assert key.isVisible()  # the blocks are tinted
    key_rect = QRect(key.mapToGlobal(key.rect().topLeft()), key.size())
    viewport = window.view.viewport()
    seen = QRect(viewport.mapToGlobal(viewport.rect().topLeft()), viewport.size())
    for node_id, block in window.scene.nodes.items():
        on_screen = window.view.mapFromScene(block.sceneBoundingRect()).boundingRect()
        rect = QRect(viewport.mapToGlobal(on_screen.topLeft()), on_screen.size())
        assert not rect.intersects(key_rect), node_id
        assert seen.contains(rect), node_id  # fitted: every block of lesson 1 in view


def test_the_canvas_refits_when_the_window_grows_until_the_user_zooms(window, qtbot):
    open_lesson_1(window, qtbot)
    settle(qtbot, window, 1280, 720)
    small = window.view.zoom()
    settle(qtbot, window, 2560, 1440)
    assert window.view.zoom() > 1.5 * small
    window.view.zoom_by(1.25)  # the user's own zoom is kept from now on
    mine = window.view.zoom()
    settle(qtbot, window, 1600, 1000)
    assert window.view.zoom() == pytest.approx(mine)
    window.actions["fit"].trigger()
    settle(qtbot, window, 2560, 1440)
    assert window.view.zoom() != pytest.approx(mine)


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1500, 950)])
def test_the_palette_shows_every_entry(window, qtbot, width, height):
    settle(qtbot, window, width, height)
    palette = window.palette
    inside = palette.viewport().rect()
    for row in range(palette.count()):
        item = palette.item(row)
        assert inside.contains(palette.visualItemRect(item)), item.text()


def test_tidy_layout_leaves_every_block_in_view(window, qtbot):
    settle(qtbot, window, 1280, 720)
    net = mlp(6, 16, 3, activation="tanh")
    for k, node in enumerate(net.nodes):  # a heap in a corner
        node.pos = (10.0 * k, 5.0 * k)
    window.editor.load(net, None)
    window.view.fit()
    window.view.zoom_by(1.5)  # the student zoomed in on the heap
    window.actions["tidy"].trigger()
    QApplication.processEvents()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    for node_id, block in window.scene.nodes.items():
        assert visible.contains(block.sceneBoundingRect()), node_id


def test_blocks_stay_legible_zoomed_out_and_a_deep_network_scrolls(window, qtbot):
    settle(qtbot, window, 1280, 720)
    window.editor.load(mlp(100, 16, 3), None)
    window.view.fit()
    QApplication.processEvents()
    assert window.view.zoom() >= MIN_FIT_ZOOM  # not shrunk to dots: it scrolls instead
    assert window.view.horizontalScrollBar().maximum() > 0
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.nodes["in"].sceneBoundingRect())  # from the input
    assert window.scene.nodes["dense10"].zoomed_out_label(MIN_FIT_ZOOM / 2) is None  # dots
    for zoom in (MIN_FIT_ZOOM, 0.25, 0.5, FULL_DETAIL - 0.01):
        block: NodeItem = window.scene.nodes["dense10"]
        label = block.zoomed_out_label(zoom)
        assert label is not None
        font, text = label
        assert font.pixelSize() * zoom >= 8.0  # letters at least 8 pixels tall on screen
        width = min(LABEL_ROOM, block.body().width() - 12)  # right of the colour strip
        assert QFontMetricsF(font).horizontalAdvance(text) <= width
        assert text.strip("…")  # something of the name, not an ellipsis alone


def test_short_names_tell_the_blocks_apart():
    dropout = read_network(RESOURCES / "lessons" / "fixes" / "14-dropout.json")  # drop1, dense1
    for net in (mlp(100, 16, 3), residual_mlp(12, 16, 3, layers_per_block=3), dropout):
        names = [node.id for node in net.nodes]
        short = [short_name(name) for name in names]
        assert len(set(short)) == len(short), sorted(short)  # "b2_dense1" and "b3_dense1" too
        assert all(len(s) <= 6 for s in short if s.endswith(tuple("0123456789")))
    assert short_name("dense10") == "d10" and short_name("b2_dense1") == "b2d1"
    assert short_name("drop1") == "dr1" and short_name("dropout12") == "dr12"


def test_zoomed_out_labels_tell_the_blocks_apart(window, qtbot):
    net = residual_mlp(4, 16, 3, layers_per_block=2)
    window.editor.load(net, None)
    QApplication.processEvents()
    blocks = window.scene.nodes.values()
    for zoom in (0.25, 0.3, 0.45, 0.6, FULL_DETAIL - 0.01):  # 0.26 at 1280 x 720
        labels = [block.zoomed_out_label(zoom)[1] for block in blocks]
        assert len(set(labels)) == len(labels), (zoom, sorted(labels))


def test_hiding_the_canvas_gives_the_plots_the_height(window, qtbot):
    settle(qtbot, window, 1280, 720)
    before = window.dashboard.height()
    window.plot_pages.canvas_button.click()
    QApplication.processEvents()
    assert not window.canvas_box.isVisible()
    assert window.dashboard.height() > before + 100
    assert not window.actions["canvas"].isChecked()  # the View menu says so too
    window.actions["canvas"].trigger()
    QApplication.processEvents()
    assert window.canvas_box.isVisible() and window.plot_pages.canvas_button.isChecked()


def test_the_tabs_stay_under_the_banner_while_the_plots_are_hidden(window, qtbot):
    settle(qtbot, window, 1280, 720)
    window.editor.load(mlp(2, 16, 5), None)  # five outputs for the spiral's three classes
    qtbot.waitUntil(window.stale_banner.isVisible, timeout=5000)
    QApplication.processEvents()
    pages = window.plot_pages
    assert not pages.scroll.isVisible()
    assert pages.tabs.mapTo(pages, QPoint(0, 0)).y() < 10  # not adrift in the empty room


def test_exporting_every_plot_draws_the_hidden_ones_too(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    open_lesson_1(window, qtbot)
    settle(qtbot, window, 1280, 720)
    pages = window.plot_pages
    pages.show_page("activations")  # two plots on screen, seven hidden
    QApplication.processEvents()
    hidden = [k for k in ALL if k not in window.dashboard.shown_keys()]
    assert len(hidden) >= 5
    written = window.exports.export_all_plots(tmp_path, progress=None)
    assert len(written) == 2 * len(ALL)
    for key in hidden:
        image = QImage(str(tmp_path / f"{window.exports.stem()}-{key}.png"))
        assert image.width() > 600  # laid out as a figure, not at its size on screen
        grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
        pixels = np.frombuffer(grey.constBits(), np.uint8).reshape(-1, grey.bytesPerLine())
        assert (pixels[:, : grey.width()] < 128).sum() > 3000, key  # axes, ticks, text, data
    assert window.dashboard.shown_keys() == pages.keys("activations")  # the page is back
    assert not window.dashboard.plot_items()[hidden[0]].isVisible()


def test_the_window_opens_no_larger_than_the_screen(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from vgsim.app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings, open_default=False)
    qtbot.addWidget(w)
    room = QApplication.primaryScreen().availableGeometry()
    assert w.width() <= max(room.width(), 1) and w.height() <= max(room.height(), 1)
    w.training.shutdown()
