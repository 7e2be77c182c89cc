"""The diagnosis of a run folder: the same `diagnose_telemetry` the window runs, on what the
folder keeps (network.json, the "data" facts of summary.json, the newest rows of metrics.csv).

`vgsim run` and `vgsim compare` write these findings into each summary.json ("findings");
`vgsim diagnose RUN_DIR` finds them again from the files.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..engine.diagnose import (
    KEEP_STEPS,
    STATS_STEPS,
    Finding,
    NetworkFacts,
    Telemetry,
    diagnose_telemetry,
    network_facts,
)
from ..engine.diagnose.facts import trainer_chance_loss
from ..engine.errors import VgsimError
from ..engine.kernels.stats import STAT_NAMES
from ..engine.spec import Network, read_network
from ..engine.telemetry import SCALARS, Divergence, flat_columns
from ..engine.train import Trainer

NETWORK_FILE = "network.json"
_CHUNK = 1 << 16


class RunFolderError(VgsimError):
    """A folder that does not hold what a run folder holds, or holds it malformed."""


def data_facts(trainer: Trainer) -> dict:
    """summary.json's "data": what the diagnosis needs of the data beyond the network file."""
    d = trainer.data
    return {
        "task": d.task,
        "features": int(d.n_features),
        "classes": int(d.n_classes),
        "train_rows": int(len(d.X_train)),
        "test_rows": int(len(d.X_test)),
        "chance_loss": trainer_chance_loss(trainer),
    }


def network_as_run(net: Network) -> dict:
    """The network file a run folder keeps (network.json): the network as trained, with a CSV
    data path made absolute so that the file can be run again from anywhere."""
    d = net.to_dict()
    path = d.get("data", {}).get("path")
    if d.get("data", {}).get("name") == "csv" and isinstance(path, str):
        full = Path(path).expanduser()
        if not full.is_absolute() and net.base_dir is not None:
            d["data"]["path"] = str((net.base_dir / full).resolve())
    return d


def findings_json(findings: list[Finding]) -> list[dict]:
    return [f.to_dict() for f in findings]


def diagnose_folder(run_dir: str | Path, summary: dict | None = None) -> list[Finding]:
    """The findings of the run in `run_dir` (its `summary` if already read)."""
    run_dir = Path(run_dir)
    if summary is None:
        summary = read_summary(run_dir)
    facts = folder_facts(run_dir, summary)
    return diagnose_telemetry(facts, folder_telemetry(run_dir, facts, summary))


def read_summary(run_dir: Path) -> dict:
    path = run_dir / "summary.json"
    if not path.is_file():
        raise RunFolderError(
            f"{run_dir} is not a run folder: summary.json is missing "
            "(a folder written by `vgsim run` has it)."
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(summary, dict):
        raise RunFolderError(f"{path} is not a run summary (a JSON object).")
    return summary


def folder_facts(run_dir: Path, summary: dict) -> NetworkFacts:
    path = run_dir / NETWORK_FILE
    if not path.is_file():
        raise RunFolderError(
            f"{run_dir} has no {NETWORK_FILE}: it was written by an older vgsim, or not by "
            "`vgsim run`; run the network again to diagnose it."
        )
    net = read_network(path)
    data = summary.get("data")
    try:
        assert isinstance(data, dict)
        chance = data["chance_loss"]
        return network_facts(
            net,
            int(data["features"]),
            math.nan if chance is None else float(chance),
            int(data["classes"]),
        )
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(
            f"{run_dir / 'summary.json'} lacks the data facts the diagnosis needs "
            '("data": features, classes, chance_loss).'
        ) from exc


def folder_telemetry(run_dir: Path, facts: NetworkFacts, summary: dict) -> Telemetry:
    """The newest KEEP_STEPS rows of metrics.csv, and step 0's loss; the per-node figures of
    the newest STATS_STEPS rows only (all the rules read)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        raise RunFolderError(f"{run_dir} has no metrics.csv to diagnose.")
    ids = list(facts.ids)
    columns = flat_columns(ids)
    header, first, lines = _head_and_tail(path, KEEP_STEPS)
    if header.decode(errors="replace").strip().split(",") != columns:
        raise RunFolderError(f"{path} and {NETWORK_FILE} do not belong to the same network.")
    n_scalars = len(SCALARS)
    try:
        scalars = np.array(
            [[float(v) for v in line.split(b",", n_scalars)[:n_scalars]] for line in lines]
        ).reshape(len(lines), n_scalars)
        full = min(len(lines), STATS_STEPS)
        rows = np.array(
            [[float(v) for v in line.split(b",")] for line in lines[len(lines) - full :]]
        )
        stats = (
            rows.reshape(full, -1)[:, n_scalars:]
            .reshape(full, len(STAT_NAMES), len(ids))
            .swapaxes(1, 2)
        )
        start = float(first.split(b",", n_scalars)[SCALARS.index("data_loss")]) if first else None
        first_step = float(first.split(b",", 1)[0]) if first else math.nan
    except ValueError as exc:
        raise RunFolderError(f"{path} has a malformed row: {exc}") from exc
    steps = scalars[:, 0].astype(np.int64)
    return Telemetry.of(
        steps,
        scalars,
        stats,
        _divergence(summary),
        start if first_step == 0 else math.nan,
    )


def _divergence(summary: dict) -> Divergence | None:
    d = summary.get("diverged")
    if not isinstance(d, dict):
        return None
    try:
        return Divergence(int(d["step"]), str(d["node"]), str(d["quantity"]))
    except (KeyError, TypeError, ValueError):
        return None


def _head_and_tail(path: Path, count: int) -> tuple[bytes, bytes, list[bytes]]:
    """(header line, first data line or b"", the last `count` data lines), reading only the
    start and the end of the file."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(min(size, _CHUNK))
        while head.count(b"\n") < 2 and f.tell() < size:  # very wide rows
            head += f.read(_CHUNK)
        head_lines = head.split(b"\n")
        header = head_lines[0]
        first = head_lines[1] if len(head_lines) > 2 else b""
        end, chunks, newlines = size, [], 0
        while end > 0 and newlines <= count + 1:
            start = max(0, end - _CHUNK)
            f.seek(start)
            chunks.append(f.read(end - start))
            newlines += chunks[-1].count(b"\n")
            end = start
    lines = [line for line in b"".join(reversed(chunks)).split(b"\n") if line.strip()]
    # The first line is the header, or (reading stopped before the start) maybe a cut one.
    return header, first, lines[1:][-count:]
