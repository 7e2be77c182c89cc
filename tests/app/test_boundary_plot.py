"""The decision-boundary plot's other pictures: predictions against targets for regression."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgsim.app.plots.boundary import DecisionBoundaryPlot
from vgsim.engine.builders import mlp
from vgsim.engine.train import Trainer
from vgsim.experiments.plot_data import PlotData
from vgsim.experiments.plot_sources import boundary_of


def test_regression_on_several_inputs_plots_each_prediction_by_its_target(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=300)
    rows = "\n".join(",".join(f"{v:.5f}" for v in (*x, t)) for x, t in zip(X, y, strict=True))
    (tmp_path / "data.csv").write_text("a,b,c,y\n" + rows + "\n")
    net = mlp(
        2,
        16,
        1,
        activation="tanh",
        init="xavier_uniform",
        loss="mse",
        data={
            "name": "csv",
            "path": str(tmp_path / "data.csv"),
            "target": "y",
            "task": "regression",
        },
    )
    t = Trainer(net)
    t.run_block(200)
    b = boundary_of(t)
    assert b["kind"] == "parity" and len(b["targets"]) == len(t.data.y_test)
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = DecisionBoundaryPlot(widget.getPlotItem())
    plot.update(PlotData([], [], [], boundary=b))
    assert "Predictions vs targets" in widget.getPlotItem().titleLabel.text
    x, y_shown = plot.points.getData()
    assert np.array_equal(x, b["targets"]) and np.array_equal(y_shown, b["prediction"])
    line_x, line_y = plot.curve.getData()
    assert np.array_equal(line_x, line_y)  # the diagonal: a perfect prediction
    assert np.corrcoef(b["targets"], b["prediction"])[0, 1] > 0.9  # it has learnt
