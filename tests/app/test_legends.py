"""Legends keep off the data: the step plots' keys sit under them, the others move away."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgsim.app.plots.dashboard import Dashboard
from vgsim.app.plots.style import LEGEND_BRUSH, LEGEND_PLACES, KeyRow, MovingLegend, place_legend


def shown_plot(qtbot, width: int = 400, height: int = 300) -> pg.PlotWidget:  # noqa: ANN001
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


def plot_with_legend(qtbot, place: int) -> tuple[pg.PlotWidget, pg.LegendItem]:
    widget = shown_plot(qtbot)
    plot = widget.getPlotItem()
    plot.setRange(xRange=(0, 10), yRange=(0, 1), padding=0)
    legend = plot.addLegend(brush=LEGEND_BRUSH)
    legend.addItem(plot.plot([0, 1], [0, 0], name="a long name for a curve"), "a long name")
    legend.anchor(*LEGEND_PLACES[place])
    qtbot.waitExposed(widget)
    return widget, legend


def hidden(widget: pg.PlotWidget, legend: pg.LegendItem, xs, ys, bars: bool) -> int:
    """Points (or bars standing on 0) under the legend, in data units."""
    view = widget.getPlotItem().getViewBox()
    box = view.mapSceneToView(legend.mapRectToScene(legend.boundingRect())).boundingRect()
    xs, ys = np.asarray(xs), np.asarray(ys)
    in_x = (xs >= box.left()) & (xs <= box.right())
    low, high = sorted((box.top(), box.bottom()))
    in_y = ys >= low if bars else (ys >= low) & (ys <= high)
    return int(np.count_nonzero(in_x & in_y))


def test_a_legend_leaves_the_corner_where_the_points_are(qtbot):
    widget, legend = plot_with_legend(qtbot, place=0)  # top right
    xs = np.linspace(6, 10, 40)
    ys = np.linspace(0.7, 1.0, 40)  # rising to the top right
    assert hidden(widget, legend, xs, ys, bars=False) > 0
    place = place_legend(widget.getPlotItem(), legend, xs, ys, 0)
    assert place != 0
    qtbot.wait(50)
    assert hidden(widget, legend, xs, ys, bars=False) == 0


def test_a_legend_leaves_tall_bars_but_stays_if_nowhere_is_clearly_better(qtbot):
    widget, legend = plot_with_legend(qtbot, place=0)
    xs, ys = np.arange(6.0, 10.0), np.full(4, 0.95)  # tall bars on the right
    place = place_legend(widget.getPlotItem(), legend, xs, ys, 0, bars=True)
    assert place != 0
    qtbot.wait(50)
    assert hidden(widget, legend, xs, ys, bars=True) == 0
    everywhere = np.linspace(0, 10, 200)
    assert place_legend(widget.getPlotItem(), legend, everywhere, np.full(200, 0.99), place,
                        bars=True) == place


def test_a_moving_legend_settles_again_when_the_axes_change(qtbot):
    widget = shown_plot(qtbot)
    plot = widget.getPlotItem()
    plot.setRange(xRange=(0, 20), yRange=(0, 1), padding=0)
    moving = MovingLegend(plot, place=0)
    moving.item.addItem(plot.plot([0, 1], [0, 0]), "a long name for a curve")
    qtbot.waitExposed(widget)
    xs, ys = np.linspace(2, 5, 40), np.full(40, 0.95)
    moving.follow(xs, ys)
    assert moving.place == 0  # the points are far from the top right corner at x = 20
    plot.setRange(xRange=(0, 5), yRange=(0, 1), padding=0)  # as fit_steps does for figures
    moving.settle()
    assert moving.place != 0
    qtbot.wait(50)
    assert hidden(widget, moving.item, xs, ys, bars=False) == 0


def scene_rect(item):  # noqa: ANN001, ANN201
    return item.mapRectToScene(item.boundingRect())


def test_a_key_row_sits_under_the_plot_and_wraps_when_the_plot_is_narrow(qtbot):
    widget = shown_plot(qtbot, 600)
    plot = widget.getPlotItem()
    key = KeyRow(plot)
    for name in ("batch", "train set", "test set"):
        plot.plot([0, 1], [0, 1], name=name)
    qtbot.waitExposed(widget)
    qtbot.wait(50)
    view = scene_rect(plot.getViewBox())
    assert key.columnCount == 3 and len(key.items) == 3
    assert scene_rect(key).top() >= scene_rect(plot.getAxis("bottom")).bottom() - 1
    assert not scene_rect(key).intersects(view)
    one_row = key.height()
    widget.resize(120, 300)
    qtbot.wait(50)
    assert key.columnCount < 3
    assert key.height() > one_row
    assert scene_rect(key).right() <= scene_rect(plot).right() + 1
    assert not scene_rect(key).intersects(scene_rect(plot.getViewBox()))
    widget.resize(600, 300)
    qtbot.wait(50)
    assert key.columnCount == 3


def test_the_dashboard_fits_a_laptop_beside_the_canvas_with_no_plot_cut_off(qtbot):
    dash = Dashboard()
    qtbot.addWidget(dash)
    dash.resize(690, 420)  # its share of a 1280 x 720 window
    dash.show()
    qtbot.waitExposed(dash)
    qtbot.wait(50)
    for key, item in dash.plot_items().items():
        plot = scene_rect(item)
        assert plot.right() <= dash.viewport().width() + 1, key
        title = item.titleLabel.item  # the text itself, which may be wider than its cell
        text = title.mapRectToScene(title.boundingRect())
        assert plot.left() - 1 <= text.left() and text.right() <= plot.right() + 1, key

