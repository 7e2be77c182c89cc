"""Running a sweep: the files it writes, resuming, a worker that dies, Cancel, and a Dask
LocalCluster giving the same figures as the local pool."""

from __future__ import annotations

import csv
import json
import math

import pytest
from sweep_helpers import CRASH_SEED, crash_on_seed_7, leave_a_note_at_exit

from vgsim.engine.builders import mlp
from vgsim.experiments.sweeps import Sweep, run_sweep
from vgsim.experiments.sweeps.runner import CSV_FILE, JSON_FILE, RUNS
from vgsim.experiments.sweeps.worker import FIGURES

pytestmark = pytest.mark.slow  # process pools and a Dask cluster, 5-20 s a test

DATA = {"name": "spiral", "samples": 200}


def base():
    return mlp(
        2,
        8,
        3,
        activation="tanh",
        init="xavier_uniform",
        data=DATA,
        training={"batch_size": 16, "lr": 0.3, "eval_every": 5},
    )


def sweep(seeds=(0, 1), steps=40, **over) -> Sweep:
    spec = {
        "format": "vgsim.sweep/1",
        "name": "test",
        "axes": [
            {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0, 0.003]},
            {"path": "blocks", "name": "depth", "values": [1, 4]},
        ],
        "seeds": list(seeds),
        "steps": steps,
        "target_loss": 1.0,
        **over,
    }
    return Sweep.from_dict(spec, network=base())


def rows(out) -> list[dict]:
    with open(out / CSV_FILE, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    s = sweep()
    seen = []
    state = run_sweep(s, out, workers=2, progress=lambda p: seen.append(p.done))
    return s, out, state, seen


def test_a_sweep_writes_one_row_per_run_and_its_summary(finished):
    s, out, state, seen = finished
    table = rows(out)
    assert list(table[0]) == ["sigma_w2", "depth", "seed", *FIGURES]
    assert len(table) == 8 and {r["status"] for r in table} <= {"ok", "diverged"}
    assert {(r["sigma_w2"], r["depth"], r["seed"]) for r in table} == {
        (w, d, s_) for w in ("1", "0.003") for d in ("1", "4") for s_ in ("0", "1")
    }
    assert seen == list(range(0, 9))  # told at the start and after every run
    summary = json.loads((out / JSON_FILE).read_text())
    assert summary["spec"]["axes"][1]["name"] == "depth"
    assert summary["runs"] == {
        "total": 8,
        "finished": 8,
        "diverged": state.diverged,
        "failed": 0,
        "skipped": 0,
        "pending": 0,
    }
    assert summary["outcome"] == "finished" and summary["engine"] == "local"
    assert summary["versions"]["numba"] and summary["wall_time_s"] > 0
    assert len(list((out / RUNS).glob("*.json"))) == 8


def test_each_run_records_its_figures(finished):
    _, out, state, _ = finished
    for record in state.records.values():
        assert record["steps"] == 40 or record["status"] == "diverged"
        assert 0 <= record["test_accuracy"] <= 1 or record["status"] == "diverged"
        assert record["wall_time_s"] > 0
    table = {(r["sigma_w2"], r["depth"], r["seed"]): r for r in rows(out)}
    healthy, tiny = table[("1", "4", "0")], table[("0.003", "4", "0")]
    # Weights of variance 0.003 / n_in: the gradient shrinks by chi_1 ~ 0.003 a layer.
    assert float(tiny["grad_ratio_start"]) < 1e-3 < 0.1 < float(healthy["grad_ratio_start"])
    assert "vanishing" in tiny["findings"].split(";") and healthy["findings"] == ""
    assert healthy["steps_to_target"] and int(healthy["steps_to_target"]) <= 40
    assert tiny["steps_to_target"] == ""
    assert float(healthy["train_accuracy"]) > float(tiny["train_accuracy"])


def test_each_worker_loads_the_kernels_and_the_data_once(finished):
    _, _, state, _ = finished
    by_worker: dict[int, list[dict]] = {}
    for record in state.records.values():
        by_worker.setdefault(record["worker"]["pid"], []).append(record["worker"])
    assert len(by_worker) == 2  # both workers ran
    for infos in by_worker.values():
        assert all(i["kernels"] == 1 and i["data"] == 1 for i in infos)
        # The task's own times: its thread's CPU is within its process's (the two clocks
        # differ by up to a fraction of a millisecond) and its wall time.
        assert all(0 < i["task_cpu_s"] <= i["process_cpu_s"] + 1e-3 for i in infos)
        assert all(i["task_cpu_s"] <= i["task_s"] * 1.05 + 0.01 for i in infos)
        assert max(i["runs"] for i in infos) == len(infos)


def test_running_again_skips_finished_runs_and_redoes_a_lost_one(finished, tmp_path):
    s, out, _, _ = finished
    folder = tmp_path / "copy"
    __import__("shutil").copytree(out, folder)
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / RUNS).iterdir()}
    again = run_sweep(s, folder, workers=1)
    assert (again.skipped, again.finished) == (8, 0)
    lost = sorted(stamps)[3]
    (folder / RUNS / lost).unlink()
    (folder / RUNS / sorted(stamps)[4]).write_text("{half a reco")  # a damaged record
    again = run_sweep(s, folder, workers=1)
    assert (again.skipped, again.finished) == (6, 2)
    kept = {p.name: p.stat().st_mtime_ns for p in (folder / RUNS).iterdir()}
    assert [n for n in stamps if kept[n] != stamps[n]] == sorted([lost, sorted(stamps)[4]])
    assert len(rows(folder)) == 8 and "pending" not in {r["status"] for r in rows(folder)}


def test_a_run_that_kills_its_worker_is_tried_twice_then_recorded(tmp_path):
    axes = [
        {"path": "dense.sigma_w2", "name": "sigma_w2", "values": [1.0]},
        {"path": "blocks", "name": "depth", "values": [1, 2]},
    ]
    s = sweep(seeds=(0, CRASH_SEED), steps=10, axes=axes)
    state = run_sweep(s, tmp_path, workers=2, run=crash_on_seed_7)
    table = rows(tmp_path)
    crashed = [r for r in table if r["seed"] == str(CRASH_SEED)]
    assert len(crashed) == 2 and all(r["status"] == "failed" for r in crashed)
    assert all("died twice" in r["error"] for r in crashed)
    # In flight beside a crash, then run again on their own: not blamed.
    assert all(r["status"] == "ok" for r in table if r["seed"] == "0")
    assert state.failed == 2 and state.finished == 2


def test_cancel_stops_at_once_and_the_rest_runs_later(tmp_path):
    s = sweep(seeds=(0, 1, 2))
    folder = tmp_path / "b"
    calls = []

    def progress(p):
        calls.append(p.done)

    state = run_sweep(s, folder, workers=1, progress=progress, stop=lambda: calls[-1] >= 2)
    assert 2 <= state.done < 12
    summary = json.loads((folder / JSON_FILE).read_text())
    assert summary["outcome"] == "cancelled" and summary["runs"]["pending"] == 12 - state.done
    assert "pending" in {r["status"] for r in rows(folder)}
    rest = run_sweep(s, folder, workers=2)
    assert rest.skipped == state.done and rest.done == 12


def test_the_exit_handlers_a_run_registers_still_run_when_its_pool_worker_ends(tmp_path):
    from vgsim.experiments.sweeps.executors import LocalPool

    pool = LocalPool(1)
    note = tmp_path / "note"
    pid = pool.submit(leave_a_note_at_exit, str(note)).result(timeout=120)
    (process,) = [p for p in pool._pool._processes.values() if p.pid == pid]
    pool.close()
    assert process.exitcode == 0
    assert note.read_text() == "ran"


def test_a_dask_local_cluster_gives_the_local_pools_figures(finished, tmp_path):
    distributed = pytest.importorskip("distributed")
    from vgsim.experiments.sweeps.dask_workers import CALLBACKS, periodic_callbacks

    s, _, local, _ = finished
    seen = []

    def look(progress):
        if progress.finished == 1:  # while the sweep runs
            seen.append(client.run(periodic_callbacks))

    # Dask's own settings, as the workers of a scheduler started elsewhere have them.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        before = client.run(periodic_callbacks)
        state = run_sweep(s, tmp_path, client=client, progress=look)
        after = client.run(periodic_callbacks)
    summary = json.loads((tmp_path / JSON_FILE).read_text())
    assert summary["engine"] == "dask" and summary["workers"] == 2
    assert state.finished == 8
    assert len({r["worker"]["pid"] for r in state.records.values()}) == 2
    for key, record in state.records.items():
        for name in ("train_loss", "test_accuracy", "grad_ratio_start", "status", "steps"):
            a, b = record[name], local.records[key][name]
            assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-12)), name
    # While the sweep ran, no worker sampled stacks and their monitors were slower; after it,
    # each worker is as it was.
    for address, callbacks in before.items():
        during = seen[0][address]
        assert callbacks["profile"] == 10 and during["profile"] is None
        assert during["profile-cycle"] is None
        assert during["tick"] == 1000 > callbacks["tick"]
        assert during["memory_monitor"] == 1000 > callbacks["memory_monitor"]
        assert during["monitor"] == 2000 > callbacks["monitor"]
        for name in CALLBACKS:  # (Dask itself moves others, the heartbeat's)
            assert after[address][name] == callbacks[name], name


def test_the_sweeps_local_cluster_starts_its_workers_set_up(tmp_path):
    pytest.importorskip("distributed")
    import dask
    import distributed

    from vgsim.experiments.sweeps.dask_workers import (
        PLUGIN_NAME,
        SWITCH,
        local_cluster,
        periodic_callbacks,
    )

    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        (callbacks,) = client.run(periodic_callbacks).values()
        assert "profile" not in callbacks  # the profiler is off from the start
        assert callbacks["tick"] == 1000 and callbacks["memory_monitor"] == 1000
        scheduler = client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.periodic_callbacks["tick"].callback_time
        )
        assert scheduler == 1000
        # With the switch off, a sweep leaves the workers as they are: no plugin of ours.
        plugins = []

        def look(progress):
            if progress.finished == 1:
                plugins.extend(client.run(lambda dask_worker: list(dask_worker.plugins)).values())

        with dask.config.set({SWITCH: False}):
            run_sweep(sweep(seeds=(0,), steps=5), tmp_path / "off", client=client, progress=look)
        with dask.config.set({SWITCH: True}):
            run_sweep(sweep(seeds=(0,), steps=5), tmp_path / "on", client=client, progress=look)
    assert PLUGIN_NAME not in plugins[0] and PLUGIN_NAME in plugins[1]


def test_ctrl_c_keeps_the_finished_runs_and_the_same_command_goes_on(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "net.json").write_text(base().to_json())
    spec = {**sweep(seeds=(0, 1, 2), steps=400).source, "network": "net.json"}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "vgsim.cli", "sweep", str(tmp_path / "s.json")]
    command += ["--out", str(out), "--workers", "2", "--quiet", "--plots", "svg"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    env["QT_QPA_PLATFORM"] = "offscreen"
    # A session of its own: Ctrl-C on a terminal reaches the whole process group, workers too.
    process = subprocess.Popen(
        command, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while not list((out / RUNS).glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "SIGINT: stopped" in err
    summary = json.loads((out / JSON_FILE).read_text())
    assert summary["outcome"] == "interrupted" and summary["runs"]["failed"] == 0
    kept = summary["runs"]["finished"]
    assert 1 <= kept < 12 and kept == len(list((out / RUNS).glob("*.json")))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / JSON_FILE).read_text())
    assert summary["runs"]["skipped"] == kept and summary["runs"]["pending"] == 0
