"""The window's speed: canvas layout and drawing, one dashboard frame, training throughput with
the dashboard live, event-loop latency while training, start-up, and memory over a long run.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_window.py [--quick] [--live-repeats N]
                                                                [--live-memory MINUTES]

Targets: 100-layer canvas laid out and drawn < 200 ms; dashboard frame (data + paint) for a
100-layer network at 1600x1000 <= 25 ms median, <= 30 ms p90; training with the dashboard live
keeps >= 85% of headless steps per second; event-loop latency p99 <= 40 ms; window visible
< 2 s; memory flat over a long run (bounded history).

--live-repeats N runs the live-training measurement N times and gives the medians and the worst
runs; --live-memory MINUTES also trains a 100-layer network that long with the whole window live
and reports the process's resident memory over the run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vgsim.app.main_window import MainWindow  # noqa: E402
from vgsim.app.plots.dashboard import Dashboard  # noqa: E402
from vgsim.app.training import TrainingController  # noqa: E402
from vgsim.app.worker import TrainingWorker  # noqa: E402
from vgsim.engine.builders import mlp  # noqa: E402
from vgsim.engine.train import Trainer  # noqa: E402


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def deep_net(depth: int = 100, width: int = 32):
    return mlp(
        depth,
        width,
        3,
        activation="relu",
        init="he_normal",
        training={"optimizer": "sgd", "lr": 0.01, "batch_size": 32},
    )


def settle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def bench_canvas(app: QApplication, window: MainWindow, repeats: int) -> None:
    times = []
    for _ in range(repeats):
        settle(app, 1.5)  # let the previous network's trainer build finish first
        net = deep_net()
        for node in net.nodes:
            node.pos = None
        started = time.perf_counter()
        window.editor.load(net, None)
        window.editor.tidy()
        window.view.fit()
        window.view.viewport().repaint()
        app.processEvents()
        times.append((time.perf_counter() - started) * 1000)
    med = float(np.median(times))
    print(
        f"canvas: 100-layer network ({len(net.nodes)} blocks) load + tidy + fit + draw: "
        f"median {med:.0f} ms, p90 {np.percentile(times, 90):.0f} ms  "
        f"[target < 200 ms: {verdict(med < 200)}]"
    )
    node_ids = list(window.scene.nodes)[5:25]
    started = time.perf_counter()
    for node_id in node_ids:
        window.scene.clearSelection()
        window.scene.nodes[node_id].setSelected(True)
        window.scene.nodes[node_id].moveBy(3, 2)
        window.view.viewport().repaint()
    per = (time.perf_counter() - started) * 1000 / len(node_ids)
    print(f"canvas: select + move + redraw one block on it: {per:.1f} ms each")


def frames_for(net, steps: int) -> list:
    worker = TrainingWorker()
    worker.send("load", net, 0)  # run 0: the frames are all of this network
    frames = []
    for _ in range(steps):
        worker.send("step")
        deadline = time.time() + 30
        while time.time() < deadline:
            f = worker.latest()
            if f is not None and f.step_count > len(frames):
                frames.append(f)
                break
            time.sleep(0.002)
    worker.stop()
    return frames


def bench_dashboard(app: QApplication, repeats: int) -> None:
    frames = frames_for(deep_net(), 30)
    dash = Dashboard()
    dash.resize(1600, 1000)
    dash.show()
    app.processEvents()
    times = []
    for k in range(repeats):
        frame = frames[k % len(frames)]
        started = time.perf_counter()
        dash.show_data(TrainingController.plot_data(frame))
        dash.viewport().repaint()
        times.append((time.perf_counter() - started) * 1000)
    times = times[5:]
    med, p90 = float(np.median(times)), float(np.percentile(times, 90))
    print(
        f"dashboard frame, 100-layer network, 1600x1000: median {med:.1f} ms, p90 {p90:.1f} "
        f"ms  [targets <= 25 / <= 30 ms: {verdict(med <= 25 and p90 <= 30)}]"
    )
    dash.close()
    dash.deleteLater()
    app.processEvents()


def headless_rate(net, seconds: float) -> float:
    t = Trainer(net)
    t.run_block(10)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += len(t.run_block(256).steps)
    return done / (time.perf_counter() - started)


def bench_live(app: QApplication, window: MainWindow, seconds: float) -> tuple[float, float]:
    net = mlp(10, 64, 3, training={"optimizer": "sgd", "lr": 0.01, "batch_size": 64})
    base = headless_rate(net, seconds)
    window.editor.load(net, None)
    deadline = time.time() + 20
    while time.time() < deadline and (
        window.training.frame is None or window.training.frame.step_count != 0
    ):
        app.processEvents()
    latencies: list[float] = []
    clock = QElapsedTimer()
    expected = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        latencies.append(now - expected[0])
        expected[0] = now + 10

    timer = QTimer()
    timer.timeout.connect(tick)
    clock.start()
    expected[0] = 10
    timer.start(10)
    window.training.play()
    started = time.perf_counter()
    first = None
    while time.perf_counter() - started < seconds:
        app.processEvents()
        frame = window.training.frame
        if first is None and frame is not None and frame.playing:
            first = (time.perf_counter(), frame.step_count)
        time.sleep(0.001)
    frame = window.training.frame
    window.training.pause()
    timer.stop()
    live = (frame.step_count - first[1]) / (time.perf_counter() - first[0]) if first else 0.0
    ratio = live / base
    late = np.maximum(np.array(latencies[10:]), 0.0)
    p99 = float(np.percentile(late, 99)) if late.size else float("nan")
    report_live(base, live, ratio, late, p99)
    return ratio, p99


def report_live(base: float, live: float, ratio: float, late: np.ndarray, p99: float) -> None:
    print(
        f"training 10x64x64 headless {base:,.0f} steps/s, with the dashboard live "
        f"{live:,.0f} steps/s = {ratio:.0%}  [target >= 85%: {verdict(ratio >= 0.85)}]"
    )
    print(
        f"event-loop latency while training at full speed: p50 "
        f"{np.percentile(late, 50):.1f} ms, p99 {p99:.1f} ms  "
        f"[target <= 40 ms: {verdict(p99 <= 40)}]"
    )


def bench_live_repeated(
    app: QApplication, window: MainWindow, seconds: float, repeats: int
) -> None:
    runs = [bench_live(app, window, seconds) for _ in range(repeats)]
    ratios, p99s = np.array([r[0] for r in runs]), np.array([r[1] for r in runs])
    print(
        f"live, {repeats} runs: kept median {np.median(ratios):.0%} (lowest {ratios.min():.0%},"
        f" {np.count_nonzero(ratios < 0.85)} below 85%); p99 median {np.median(p99s):.1f} ms "
        f"(highest {p99s.max():.1f}, {np.count_nonzero(p99s > 40)} above 40 ms)"
    )


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def bench_live_memory(app: QApplication, window: MainWindow, minutes: float) -> None:
    """The whole window live (plots, canvas, diagnosis) on a 100-layer network, for a while."""
    window.editor.load(deep_net(), None)
    settle(app, 3)
    window.training.play()
    samples, started = [], time.perf_counter()
    while time.perf_counter() - started < minutes * 60:
        settle(app, 10)
        samples.append(resident_mb())
    steps = window.training.frame.step_count
    window.training.pause()
    quarter = samples[len(samples) // 4]
    print(
        f"memory, window live for {minutes:g} min ({steps:,} steps of a 100-layer network): "
        f"resident {samples[0]:.0f} MB at the first sample, {quarter:.0f} MB at 1/4, "
        f"{samples[-1]:.0f} MB at the end, most {max(samples):.0f} MB  "
        f"[flat: {verdict(samples[-1] - quarter < 20)}]"
    )


def bench_startup() -> None:
    code = (
        "import time; t0=time.perf_counter(); import os;"
        "os.environ.setdefault('QT_QPA_PLATFORM','offscreen');"
        "from PySide6.QtWidgets import QApplication; app=QApplication([]);"
        "from vgsim.app.main_window import MainWindow; w=MainWindow(); w.show();"
        "app.processEvents(); t1=time.perf_counter();"
        "import sys; print(t1-t0); w.training.shutdown(); w.close(); w.deleteLater();"
        "app.processEvents()"
    )
    walls = []
    for _ in range(3):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
        )
        walls.append((float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - started))
    visible = float(np.median([w[0] for w in walls]))
    print(
        f"start-up: window visible after {visible:.2f} s (median of 3, interpreter start "
        f"excluded)  [target < 2 s: {verdict(visible < 2)}]"
    )


def bench_memory(seconds: float) -> None:
    t = Trainer(deep_net(100, 32))
    rss = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        t.run_block(256)
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    grow = rss[-1] - rss[len(rss) // 4]
    print(
        f"memory: 100-layer run of {t.step_count:,} steps: peak RSS {rss[-1]:.0f} MB, "
        f"growth over the last 3/4 {grow:.1f} MB; history holds {t.history.nbytes() / 1e6:.1f}"
        f" MB  [flat: {verdict(grow < 20)}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--live-repeats", type=int, default=1, metavar="N")
    parser.add_argument("--live-memory", type=float, default=0, metavar="MINUTES")
    args = parser.parse_args()
    if args.live_repeats < 1 or args.live_memory < 0:
        parser.error("--live-repeats is at least 1 and --live-memory at least 0")
    app = QApplication.instance() or QApplication([])
    window = MainWindow(
        QSettings("/tmp/vgsim-bench.ini", QSettings.Format.IniFormat), open_default=False
    )
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    bench_canvas(app, window, 3 if args.quick else 7)
    bench_dashboard(app, 30 if args.quick else 120)
    if args.live_repeats > 1:
        bench_live_repeated(app, window, 3 if args.quick else 8, args.live_repeats)
    else:
        bench_live(app, window, 3 if args.quick else 8)
    if args.live_memory:
        bench_live_memory(app, window, args.live_memory)
    window.training.shutdown()
    window.close()
    window.deleteLater()
    app.processEvents()
    bench_startup()
    bench_memory(5 if args.quick else 60)


if __name__ == "__main__":
    main()
