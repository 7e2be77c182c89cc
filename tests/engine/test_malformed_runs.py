"""`vgsim export-plots` on damaged or foreign run folders: a message naming the file and exit
code 2, never a traceback, and nothing allocated for sizes a header merely claims."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine.builders import mlp
from vgsim.engine.errors import VgsimError
from vgsim.experiments.comparison_data import from_compare_dir
from vgsim.experiments.comparisons import compare_networks
from vgsim.experiments.plot_sources import from_run
from vgsim.experiments.runs import run_network

TRAINING = {"optimizer": "sgd", "lr": 0.1, "batch_size": 16, "seed": 3}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good") / "run"
    run_network(mlp(2, 6, 2, training=TRAINING, data={"name": "moons", "samples": 120}), 12, folder)
    return folder


def _npz(path: Path, change: Callable[[dict], None]) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _huge_header(path: Path) -> None:
    """An .npy member whose header claims 8 GiB of float64 (a 1-row file)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**30,)}
    )
    buffer.write(b"\0" * 8)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("extra.npy", buffer.getvalue())


def _metrics(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "empty snapshot": lambda d: (d / "snapshot.npz").write_bytes(b""),
    "snapshot not a zip": lambda d: (d / "snapshot.npz").write_bytes(b"PK\x03\x04garbage"),
    "snapshot cut short": lambda d: (d / "snapshot.npz").write_bytes(
        (d / "snapshot.npz").read_bytes()[:300]
    ),
    "node types missing": lambda d: _npz(d / "snapshot.npz", lambda a: a.pop("nodes/types")),
    "ids of another length": lambda d: _npz(
        d / "snapshot.npz", lambda a: a.update({"nodes/ids": a["nodes/ids"][:-1]})
    ),
    "histograms of the wrong shape": lambda d: _npz(
        d / "snapshot.npz", lambda a: a.update({"histograms": np.zeros(5)})
    ),
    "boundary kind missing": lambda d: _npz(d / "snapshot.npz", lambda a: a.pop("boundary/kind")),
    "boundary outputs of another size": lambda d: _npz(
        d / "snapshot.npz",
        lambda a: a.update({"boundary/outputs": a["boundary/outputs"][:7]}),
    ),
    "a header claiming 8 GiB": lambda d: _huge_header(d / "snapshot.npz"),
    "metrics header cut": lambda d: _metrics(d / "metrics.csv", lambda x: [x[0][:40], *x[1:]]),
    "metrics with a word": lambda d: _metrics(
        d / "metrics.csv", lambda x: [*x[:3], "step," + x[3].split(",", 1)[1], *x[4:]]
    ),
    "metrics row cut": lambda d: _metrics(d / "metrics.csv", lambda x: [*x[:-1], x[-1][:30]]),
    "metrics without rows": lambda d: _metrics(d / "metrics.csv", lambda x: x[:1]),
    "metrics not a file": lambda d: ((d / "metrics.csv").unlink(), (d / "metrics.csv").mkdir()),
    "summary a list": lambda d: (d / "summary.json").write_text("[1, 2]"),
    "summary not JSON": lambda d: (d / "summary.json").write_text("{"),
    "steps not rising": lambda d: _metrics(d / "metrics.csv", lambda x: [x[0], *x[1:][::-1]]),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_run_folder_is_refused_by_name(good_run: Path, tmp_path: Path, damage: str):
    folder = tmp_path / "run"
    shutil.copytree(good_run, folder)
    DAMAGE[damage](folder)
    with pytest.raises(VgsimError, match=r"\S") as exc:
        from_run(folder)
    assert str(folder) in str(exc.value) and len(str(exc.value)) < 400


def test_the_good_run_reads(good_run: Path):
    assert from_run(good_run).step == 12


def test_export_plots_exits_2_with_one_message(good_run: Path, tmp_path: Path, capsys):
    from vgsim.cli import main

    folder = tmp_path / "run"
    shutil.copytree(good_run, folder)
    DAMAGE["a header claiming 8 GiB"](folder)
    assert main(["export-plots", str(folder), "--plots", "png"]) == 2
    err = capsys.readouterr().err
    assert "claims" in err and "Traceback" not in err and not (folder / "plots").exists()


@pytest.fixture(scope="module")
def good_comparison(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cmp") / "cmp"
    data = {"name": "moons", "samples": 120}
    nets = [mlp(d, 6, 2, training=TRAINING, data=data, name=f"d{d}") for d in (1, 2)]
    compare_networks(nets, 8, folder)
    return folder


COMPARISON_DAMAGE: dict[str, Callable[[Path], None]] = {
    "runs not a list": lambda d: (d / "comparison.json").write_text('{"runs": 3}'),
    "a run without a folder": lambda d: _json(d, lambda c: c["runs"][0].pop("folder")),
    "a folder outside": lambda d: _json(d, lambda c: c["runs"][0].update(folder="../x")),
    "steps not a number": lambda d: _json(d, lambda c: c["runs"][1].update(steps="many")),
    "a run's metrics gone": lambda d: (d / "d1" / "metrics.csv").unlink(),
    "a run's snapshot damaged": lambda d: (d / "d2" / "snapshot.npz").write_bytes(b"x"),
}


def _json(folder: Path, change: Callable[[dict], object]) -> None:
    content = json.loads((folder / "comparison.json").read_text())
    change(content)
    (folder / "comparison.json").write_text(json.dumps(content))


@pytest.mark.parametrize("damage", list(COMPARISON_DAMAGE))
def test_a_damaged_comparison_is_refused_by_name(good_comparison, tmp_path, damage):
    folder = tmp_path / "cmp"
    shutil.copytree(good_comparison, folder)
    assert len(from_compare_dir(folder).runs) == 2
    COMPARISON_DAMAGE[damage](folder)
    with pytest.raises(VgsimError, match=str(folder)):
        from_compare_dir(folder)
