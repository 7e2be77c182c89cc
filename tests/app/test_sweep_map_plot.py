"""The map drawn: cell colours, empty cells, diverged crosses, the theory's curves, and
`vgsim sweep` writing sweep.csv, sweep.json, map.png and map.svg."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pyqtgraph as pg
import pytest

from vgsim.app.sweep.headless import MapFigure, render_map
from vgsim.app.sweep.map_plot import CELL_PIXELS, EMPTY
from vgsim.cli import main
from vgsim.engine.builders import mlp
from vgsim.experiments.sweeps import Sweep
from vgsim.experiments.sweeps.grid import map_data


def tanh_chain():
    net = mlp(2, 8, 3, activation="tanh", data={"name": "spiral", "samples": 200})
    for node in net.nodes:
        if node.type == "dense" and node.id != "head":
            node.params["bias_init"] = {"name": "normal", "std": math.sqrt(0.05)}
    net.training.update(batch_size=16, eval_every=5)
    return net


SPEC = {
    "format": "vgsim.sweep/1",
    "name": "small map",
    "axes": [
        {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0, 2.0, 3.0]},
        {"path": "blocks", "name": "depth", "values": [1, 2]},
    ],
    "seeds": [0],
    "steps": 10,
}


def test_cells_are_coloured_by_value_and_empty_ones_grey(qtbot):
    s = Sweep.from_dict(SPEC, network=tanh_chain())
    tasks = s.tasks()
    records = {t.key: {"status": "ok", "test_accuracy": 1.0} for t in tasks if t.index == (2, 1)}
    records.update(
        {t.key: {"status": "diverged", "test_accuracy": 0.0} for t in tasks if t.index == (0, 0)}
    )
    figure = MapFigure()
    qtbot.addWidget(figure)
    figure.map.show(map_data(s, records, tasks=tasks))
    image = figure.map.image.image
    assert image.shape == (2 * CELL_PIXELS, 3 * CELL_PIXELS, 4)

    def cell(col, row):
        return tuple(image[row * CELL_PIXELS + 1, col * CELL_PIXELS + 1, :3])

    top = tuple(pg.colormap.get("viridis").map(1.0, mode="byte")[:3])
    bottom = tuple(pg.colormap.get("viridis").map(0.0, mode="byte")[:3])
    assert cell(2, 1) == top and cell(0, 0) == bottom and cell(1, 0) == EMPTY
    x, y = figure.map.crosses.getData()
    assert list(x) == [0.0] and list(y) == [0.0]  # the diverged cell
    x, y = figure.map.critical.getData()
    assert np.allclose(x, 0.761, atol=0.002)  # sigma_w2 = 1.761 between columns 0 and 1
    assert figure.map.cell_at(1.9, 0.7) == (2, 1) and figure.map.cell_at(3.2, 0) is None


def test_render_map_writes_png_and_svg(qtbot, tmp_path):
    s = Sweep.from_dict(SPEC, network=tanh_chain())
    written = render_map(map_data(s, {}), tmp_path)
    assert [p.name for p in written] == ["map.png", "map.svg"]
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "map.svg").read_text()


@pytest.mark.slow  # a sweep on a process pool, run twice: about 6 s
def test_vgsim_sweep_writes_its_files_and_resumes(tmp_path, capsys):
    (tmp_path / "net.json").write_text(tanh_chain().to_json())
    (tmp_path / "s.json").write_text(json.dumps({**SPEC, "network": "net.json"}))
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "s.json"), "--out", str(out), "--workers", "2"]) == 0
    assert {p.name for p in out.iterdir()} >= {"sweep.csv", "sweep.json", "map.png", "map.svg"}
    with open(out / "sweep.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 and all(r["status"] in ("ok", "diverged") for r in table)
    printed = capsys.readouterr().out
    assert "6 runs: 6 finished" in printed and "0 skipped" in printed
    assert main(["sweep", str(tmp_path / "s.json"), "--out", str(out), "--plots", "svg"]) == 0
    assert "6 skipped (already done)" in capsys.readouterr().out


def test_vgsim_sweep_refuses_a_bad_spec(tmp_path, capsys):
    (tmp_path / "s.json").write_text(json.dumps({**SPEC, "network": "missing.json"}))
    assert main(["sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.json" in capsys.readouterr().err
