"""The one place that writes files: atomic writes with unique temporary names, metrics rows that
are never cut, and the compiled number formatter that matches printf's "%.9g"."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import files
from vgsim.engine.files import MetricsFile, atomic_write, format_rows, save_npz, write_json


def test_the_formatter_writes_what_printf_writes() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.normal(size=4000) * 10.0 ** rng.integers(-320, 300, 4000),
            rng.normal(size=2000).astype(np.float32).astype(np.float64),
            rng.integers(0, 10**7, 500).astype(np.float64),
            [0.0, -0.0, 1e-5, 1e-4, 0.1, 1 / 3, 123456789, 1234567890, 999999999.6],
            [5e-324, 1.7976931348623157e308, -2.5e-7, 1e16, 100, 1000.5],
        ]
    )
    got = format_rows(values[None]).decode().rstrip("\n").split(",")
    want = [format(v, ".9g") for v in values]
    differ = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
    # The 9th digit may differ by one in rare ties; never more.
    assert len(differ) <= len(values) // 1000, differ[:5]
    for g, w in differ:
        assert float(g) == pytest.approx(float(w), rel=2e-9)


def test_the_formatter_spells_out_nan_and_infinities_one_line_per_row() -> None:
    rows = np.array([[np.nan, np.inf, -np.inf], [1.0, -2.0, 0.5]])
    assert format_rows(rows) == b"nan,inf,-inf\n1,-2,0.5\n"


def test_json_has_no_nan_and_plain_numbers(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "a.json", {"x": np.float32(0.5), "y": float("nan"), "z": [np.int64(3)]}
    )
    assert path.read_text() == '{\n  "x": 0.5,\n  "y": null,\n  "z": [\n    3\n  ]\n}\n'


def test_atomic_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Two saves of the same file at once: each writes its own temporary file, and the file
    ends up whole, one or the other."""
    path = tmp_path / "net.json"
    seen: list[str] = []
    barrier = threading.Barrier(2)

    def save(text: str) -> None:
        def write(tmp: Path) -> None:
            seen.append(tmp.name)
            tmp.write_text(text[:100])
            barrier.wait(timeout=10)  # both temporary files exist, half written
            tmp.write_text(text)

        atomic_write(path, write)

    texts = ["a" * 5000, "b" * 5000]
    threads = [threading.Thread(target=save, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2
    assert path.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_npz_round_trip(tmp_path: Path) -> None:
    save_npz(tmp_path / "s.npz", {"a/b": np.arange(3)})
    with np.load(tmp_path / "s.npz") as z:
        assert list(z["a/b"]) == [0, 1, 2]


def test_a_failed_append_is_cut_back_to_the_last_whole_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk in the middle of a block of rows: the file ends with the last whole row."""
    metrics = MetricsFile(tmp_path / "metrics.csv", ["in", "out"])
    stats = np.zeros((3, 2, 10))  # step × node × figure
    scalars = np.arange(3 * 14, dtype=float).reshape(3, 14)
    scalars[:, 0] = [0, 1, 2]
    metrics.add(scalars, stats)
    metrics.flush()
    whole = (tmp_path / "metrics.csv").read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", half_then_full)
    scalars[:, 0] = [3, 4, 5]
    metrics.add(scalars, stats)
    with pytest.raises(OSError):
        metrics.flush()
    monkeypatch.undo()
    assert (tmp_path / "metrics.csv").read_bytes() == whole
    assert metrics.last_step == 2 and metrics.rows == 3
    metrics.close()
    rows = np.loadtxt(tmp_path / "metrics.csv", delimiter=",", skiprows=1)
    assert rows.shape == (3, 14 + 20) and list(rows[:, 0]) == [0, 1, 2]


def test_rows_added_in_any_blocks_are_written_as_in_one_piece(tmp_path: Path) -> None:
    """MetricsFile formats rows in chunks into buffers it keeps: blocks of any size (under,
    across and over FLUSH_ROWS) give the same bytes as the whole-file writer."""
    rng = np.random.default_rng(3)
    steps, nodes, figures = 3 * files.FLUSH_ROWS + 17, 5, 10
    scalars = rng.normal(size=(steps, 14))
    scalars[:, 0] = np.arange(steps)
    stats = rng.lognormal(0, 4, size=(steps, nodes, figures))
    stats[rng.random(stats.shape) < 0.3] = np.nan
    ids = [f"n{i}" for i in range(nodes)]
    metrics = MetricsFile(tmp_path / "metrics.csv", ids)
    start = 0
    for size in (1, 7, files.FLUSH_ROWS, 2 * files.FLUSH_ROWS + 3, 3, 10**6):
        metrics.add(scalars[start : start + size], stats[start : start + size])
        start = min(start + size, steps)
    metrics.close()
    files.write_metrics(tmp_path / "whole.csv", ids, scalars, stats)
    assert (tmp_path / "metrics.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert metrics.rows == steps and metrics.last_step == steps - 1
