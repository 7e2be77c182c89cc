"""The window's very first start: every Numba kernel compiled from nothing, while the window is up.

    python benchmarks/bench_cold_start.py [--repeats N]

Each repeat copies vgsim/ and resources/ into a fresh temporary folder (no __pycache__, so no
compiled kernel is cached), starts the window there (offscreen) and measures, in that process:
  visible   seconds until the window is shown
  ready     seconds until the default network has trained its first 10 steps
  stall     the longest gap of a 10 ms timer on the GUI thread meanwhile: how long the window
            was frozen
  progress  whether the status bar said kernels were being prepared while it waited
Targets (issue #4): visible < 2 s, ready < 15 s, stall <= 250 ms, progress shown.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, os, time
t0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from vgsim.app.main_window import MainWindow
settings = QSettings(os.path.join(os.getcwd(), "bench.ini"), QSettings.Format.IniFormat)
w = MainWindow(settings)
w.resize(1600, 1000)
w.show()
app.processEvents()
visible = time.perf_counter() - t0
clock = QElapsedTimer(); clock.start()
gaps, last, seen = [], [0.0], {"progress": False, "ready": None, "asked": False}
def tick():
    now = clock.nsecsElapsed() / 1e6
    gaps.append(now - last[0]); last[0] = now
    bar = getattr(w, "preparing", None)
    if w.statusBar().currentMessage().startswith("Preparing") or (bar and bar.isVisible()):
        seen["progress"] = True
    f = w.training.frame
    if f is not None and f.nodes[0] and not seen["asked"]:
        seen["asked"] = True
        w.training.run_until("steps", 10)
    if f is not None and f.step_count >= 10 and seen["ready"] is None:
        seen["ready"] = time.perf_counter() - t0
        app.quit()
timer = QTimer(); timer.timeout.connect(tick); timer.start(10)
QTimer.singleShot(60000, app.quit)
app.exec()
w.training.shutdown(); w.close(); w.deleteLater(); app.processEvents()
times = [sum(gaps[:i + 1]) for i in range(len(gaps))]
long = [(round(t / 1000, 2), round(g)) for t, g in list(zip(times, gaps))[1:] if g > 100]
print(json.dumps({"visible": visible, "ready": seen["ready"], "stall": max(gaps[1:]),
                  "progress": seen["progress"], "long_gaps_at_s": long}))
"""


def one_cold_start() -> dict:
    with tempfile.TemporaryDirectory(prefix="vgsim-cold-") as tmp:
        for part in ("vgsim", "resources"):
            shutil.copytree(
                ROOT / part,
                Path(tmp) / part,
                ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
            )
        out = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=tmp,
            capture_output=True,
            text=True,
            env={**_env(), "PYTHONPATH": tmp},
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("NUMBA_CACHE_DIR", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    runs = [one_cold_start() for _ in range(args.repeats)]
    for r in runs:
        print(json.dumps(r))
    visible = statistics.median(r["visible"] for r in runs)
    ready = statistics.median(r["ready"] or float("inf") for r in runs)
    stall = max(r["stall"] for r in runs)
    shown = all(r["progress"] for r in runs)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print(
        f"cold start, median of {len(runs)}: visible {visible:.2f} s [< 2 s: "
        f"{verdict(visible < 2)}], ready {ready:.1f} s [< 15 s: {verdict(ready < 15)}], "
        f"longest stall {stall:.0f} ms [<= 250 ms: {verdict(stall <= 250)}], progress shown: "
        f"{verdict(shown)}"
    )


if __name__ == "__main__":
    main()
