"""Legends keep off the data: each plot's key sits in a row under its x axis."""

from __future__ import annotations

import pyqtgraph as pg

from vgsim.app.plots.dashboard import Dashboard
from vgsim.app.plots.style import KeyRow


def shown_plot(qtbot, width: int = 400, height: int = 300) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


def scene_rect(item):
    return item.mapRectToScene(item.boundingRect())


def test_a_key_row_sits_under_the_plot_and_wraps_when_the_plot_is_narrow(qtbot):
    widget = shown_plot(qtbot, 600)
    plot = widget.getPlotItem()
    key = KeyRow(plot)
    for name in ("batch", "train set", "test set"):
        plot.plot([0, 1], [0, 1], name=name)
    qtbot.waitExposed(widget)

    def one_row_under_the_axis() -> None:  # once the layout has run (waitUntil retries)
        assert key.columnCount == 3 and len(key.items) == 3
        assert scene_rect(key).top() >= scene_rect(plot.getAxis("bottom")).bottom() - 1
        assert not scene_rect(key).intersects(scene_rect(plot.getViewBox()))

    qtbot.waitUntil(one_row_under_the_axis)
    one_row = key.height()
    widget.resize(120, 300)

    def wrapped() -> None:
        assert key.columnCount < 3
        assert key.height() > one_row
        assert scene_rect(key).right() <= scene_rect(plot).right() + 1
        assert not scene_rect(key).intersects(scene_rect(plot.getViewBox()))

    qtbot.waitUntil(wrapped)
    widget.resize(600, 300)
    qtbot.waitUntil(lambda: key.columnCount == 3)


def test_the_dashboard_fits_a_laptop_beside_the_canvas_with_no_plot_cut_off(qtbot):
    dash = Dashboard()
    qtbot.addWidget(dash)
    dash.resize(690, 420)  # its share of a 1280 x 720 window
    dash.show()
    qtbot.waitExposed(dash)

    def every_plot_fits() -> None:  # once the layout has run (waitUntil retries)
        for key, item in dash.plot_items().items():
            legend = item.legend
            if legend is not None:  # never over the data: in the plot's layout, under its view
                assert isinstance(legend, KeyRow) and legend.parentItem() is item, key
                assert scene_rect(legend).top() >= scene_rect(item.getViewBox()).bottom(), key
            plot = scene_rect(item)
            assert plot.right() <= dash.viewport().width() + 1, key
            title = item.titleLabel.item  # the text itself, which may be wider than its cell
            text = title.mapRectToScene(title.boundingRect())
            assert plot.left() - 1 <= text.left() and text.right() <= plot.right() + 1, key

    qtbot.waitUntil(every_plot_fits)
