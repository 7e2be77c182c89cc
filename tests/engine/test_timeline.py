"""Timelines: any step of a run recreated bit for bit from saved states; branches; thinning."""

from __future__ import annotations

import numpy as np
import pytest
from bitwise import assert_same_plot, same_bits

from vgsim.engine import Network, Trainer
from vgsim.engine.builders import mlp
from vgsim.engine.diagnose import diagnose
from vgsim.engine.remedies import apply_remedy
from vgsim.engine.state import StateError
from vgsim.engine.telemetry import History
from vgsim.experiments.checkpoints import Checkpoint, Checkpoints
from vgsim.experiments.figures import Rows
from vgsim.experiments.plot_sources import from_trainer
from vgsim.experiments.timeline import Timeline
from vgsim.experiments.timeline_files import open_timeline, save_run, save_timeline


def network(**training: object) -> Network:
    settings = {"batch_size": 16, "optimizer": "adam", "lr": 0.01, "eval_every": 9}
    return mlp(3, 12, 3, batchnorm=True, training={**settings, **training}, name="tl")


def record_run(net: Network, steps: int, blocks=(37, 5, 200), changes=None, **kw) -> Timeline:
    """Train like the window does (blocks of uneven sizes, cut where a state is due)."""
    live = Trainer(net)
    tl = Timeline.follow(live, **kw)
    changes = dict(changes or {})
    i = 0
    while live.step_count < steps and not live.diverged:
        if live.step_count in changes:
            live.set_live(**changes[live.step_count])
            tl.live_changed(live.step_count, changes[live.step_count])
        due = [s for s in changes if s > live.step_count] + [steps]
        n = min(tl.until_checkpoint(live.step_count), blocks[i % len(blocks)])
        n = min(n, min(due) - live.step_count)
        i += 1
        if n == 1 and i % 3 == 0:
            tl.add(live, live.step())  # a single step, as the window's Step does
        else:
            tl.add(live, live.run_block(n))
    return tl


def straight(net: Network, steps: int, changes=None) -> Trainer:
    """A plain run of `steps` steps, stopped there, as the window would show it."""
    t = Trainer(net)
    changes = dict(changes or {})
    while t.step_count < steps:
        if t.step_count in changes:
            t.set_live(**changes[t.step_count])
        later = [s for s in changes if s > t.step_count] + [steps]
        t.run_block(min(later) - t.step_count)
    return t


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_step_shows_what_a_straight_run_showed(dtype):
    net = network(dtype=dtype, l2=0.001, clip={"mode": "norm", "threshold": 1.0})
    tl = record_run(net, 2200)
    relative = tl.prediction(0)
    # Its figures are a straight run's record, bit for bit.
    t = Trainer(net)
    scalars, stats = [], []
    while t.step_count < 2200:
        block = t.run_block(2200 - t.step_count)
        scalars.append(block.scalars)
        stats.append(block.node_stats)
    assert same_bits(tl.figures.scalars, np.concatenate(scalars))
    assert same_bits(tl.figures.stats, np.concatenate(stats))
    # The first step, an evaluation step, a state's step, the step after, one past 2048 (the
    # long record thinned), the last.
    for step in (0, 9 * 13, 808, 809, 2100, 2199):
        view = tl.view(step)
        run = straight(net, step + 1)
        assert_same_plot(view.plot, from_trainer(run, net.name, relative))
        assert view.record.scalars == run.history.latest.scalars
        assert same_bits(view.record.histograms, run.history.latest.histograms)
        assert view.findings == diagnose(run)


def test_scrubbing_back_and_forth_gives_the_same_step():
    net = network()
    tl = record_run(net, 300)
    first = tl.view(150)
    for step in (299, 3, 151, 149, 150):
        tl.view(step)
    again = tl.view(150)
    assert_same_plot(first.plot, again.plot)


def test_live_changes_are_replayed_where_they_happened():
    changes = {37: {"lr": 0.002}, 50: {"clip": {"mode": "value", "threshold": 0.01}}}
    net = network()
    tl = record_run(net, 120, changes=changes)
    for step in (36, 37, 45, 50, 119):
        view = tl.view(step)
        run = straight(net, step + 1, changes)
        assert same_bits(view.plot.node_stats, run.history.latest.node_stats)
        assert same_bits(view.record.histograms, run.history.latest.histograms)
    assert tl.view(60).record.scalars["clip_fired"] == 1.0


def test_a_dump_is_the_one_a_straight_run_saves():
    net = network()
    tl = record_run(net, 100)
    t = straight(net, 61)
    _, expected = t.step_with_state()
    dump = tl.dump(61)
    assert sorted(dump) == sorted(expected)
    assert all(same_bits(dump[k], expected[k]) for k in dump)


def test_a_tight_budget_thins_old_states_evenly_and_stays_exact():
    net = network()
    t = Trainer(net)
    t.step()
    state_bytes = t.capture_state().nbytes  # with Adam's moments
    tl = record_run(net, 1500, budget=200 * state_bytes, every=4)  # 128 of them recent
    cp = tl.checkpoints
    assert cp.nbytes <= cp.budget and len(cp) >= 195
    steps = np.array(cp.steps)
    assert steps[0] == 0
    recent = steps[steps > steps[-1] - cp.recent_span]
    assert np.all(np.diff(recent) == 4)  # the newest steps at full density
    old_gaps = np.diff(steps[steps <= steps[-1] - cp.recent_span])
    assert old_gaps.max() <= 2.5 * old_gaps.mean()  # spread evenly, not bunched
    for step in (17, 555, 1002, 1499):
        assert same_bits(tl.view(step).plot.node_stats, tl.figures.stats[step])


def test_a_branch_continues_from_the_state_with_its_own_settings():
    net = network()
    tl = record_run(net, 200)
    clip = {"mode": "value", "threshold": 0.001}
    trainer, child = tl.branch(120, settings={"clip": clip})
    assert trainer.step_count == 120 and trainer.cfg["clip"]["mode"] == "value"
    # The same as restoring a straight run's state into a trainer with clipping on.
    expected = Trainer(network(clip=clip))
    expected.restore_state(straight(net, 120).capture_state(), settings=False)
    while trainer.step_count < 150:
        step = trainer.step_count
        block = trainer.run_block(min(7, child.until_checkpoint(step), 150 - step))
        child.add(trainer, block)
    ref = [expected.step() for _ in range(30)]
    assert same_bits(child.figures.scalars[120:], np.array([list(r.scalars.values()) for r in ref]))
    assert all(r.scalars["clip_fired"] == 1.0 for r in ref)
    # Its past is the run's; its present is its own.
    assert child.steps == 150 and len(child.segments) == 2
    assert_same_plot(child.view(100).plot, tl.view(100).plot)
    assert child.view(140).record.scalars["clip_fired"] == 1.0
    assert same_bits(child.view(140).plot.node_stats, child.figures.stats[140])
    # The original run is untouched.
    assert tl.steps == 200 and tl.view(140).record.scalars["clip_fired"] == 0.0


def test_a_branch_history_looks_like_the_run_up_to_there():
    net = network()
    tl = record_run(net, 200)
    seen = tl.view(149)  # looking at the step before: the branch goes on from what it shows
    trainer, _ = tl.branch(150, settings={"lr": 0.001})
    assert trainer.history.latest is seen.record
    run = straight(net, 150)
    for mine, theirs in zip(trainer.history.recent(), run.history.recent(), strict=True):
        assert same_bits(mine, theirs)
    assert trainer.history.latest.scalars == run.history.latest.scalars
    run.set_live(lr=0.001)
    for _ in range(20):
        assert same_bits(trainer.step().node_stats, run.step().node_stats)


def test_a_branch_with_other_shapes_or_data_is_refused():
    tl = record_run(network(), 50)
    wider = mlp(3, 13, 3, batchnorm=True, training=network().training, name="tl")
    with pytest.raises(StateError, match="other shapes"):
        tl.branch(20, network=wider)
    moons = network()
    moons.data = {"name": "moons"}
    with pytest.raises(StateError, match="same data"):
        tl.branch(20, network=moons)
    with pytest.raises(ValueError, match="live setting"):
        tl.branch(20, settings={"seed": 3})
    dropout = apply_remedy(network(), "dropout")  # the same weights, blocks without a past
    with pytest.raises(StateError, match="adds drop1, drop2, drop3"):
        tl.branch(20, network=dropout)


def test_history_refill_is_appending_one_by_one():
    ids = ["a", "b"]
    rng = np.random.default_rng(0)
    n = 5000
    scalars = rng.normal(size=(n, 14))
    scalars[:, 0] = np.arange(n)
    stats = rng.normal(size=(n, 2, 10))
    for end in (1, 700, 2048, 2049, 4097, 5000):
        one = History(ids, recent=700)
        for s in range(end):
            one.append_one(s, scalars[s], stats[s], None)
        filled = History(ids, recent=700)
        filled.refill(scalars[:end], stats[:end])
        for a, b in zip(one.recent() + one.long(), filled.recent() + filled.long(), strict=True):
            assert same_bits(a, b), end
        one.append_one(end, scalars[0], stats[0], None)
        filled.append_one(end, scalars[0], stats[0], None)
        assert same_bits(one.long()[0], filled.long()[0])


def test_checkpoints_keep_starts_and_the_newest():
    cp = Checkpoints(budget_bytes=5 * 100, every=1, recent_span=2)
    for step in range(40):
        cp.add(Checkpoint(step, 0, 100), start=step in (0, 17))
    assert cp.nbytes <= 500 and cp.steps[0] == 0 and 17 in cp.steps and cp.steps[-1] == 39
    assert cp.nearest(16).step <= 16 and cp.nearest(39).step == 39
    assert cp.nearest(18, segment=1) is None


def test_a_branch_with_another_network_of_the_same_shapes():
    net = network()
    tl = record_run(net, 120)
    other = net.copy()
    other.node("act2").params["function"] = "tanh"
    trainer, child = tl.branch(80, network=other)
    expected = Trainer(other)
    expected.restore_state(straight(net, 80).capture_state(), settings=False)
    for _ in range(12):
        a, b = trainer.step(), expected.step()
        assert same_bits(a.node_stats, b.node_stats)
        child.add(trainer, a)
    assert child.segments[-1].network.node("act2").params["function"] == "tanh"
    assert same_bits(child.view(91).record.histograms, a.histograms)


def test_a_saved_timeline_opens_as_it_was(tmp_path):
    net = network()
    changes = {30: {"lr": 0.003}}
    tl = record_run(net, 150, changes=changes)
    trainer, child = tl.branch(100, settings={"l2": 0.01})
    while (step := trainer.step_count) < 140:
        child.add(trainer, trainer.run_block(min(child.until_checkpoint(step), 140 - step)))
    save_timeline(child, tmp_path / "saved")
    assert len(child.checkpoints) and all(e.state is not None for e in child.checkpoints.entries)
    opened = open_timeline(tmp_path / "saved")
    assert opened.steps == 140 and [s.start for s in opened.segments] == [0, 100]
    assert opened.changes == child.changes
    for step in (10, 45, 99, 100, 139):
        assert_same_plot(opened.view(step).plot, child.view(step).plot)
    # Saved again elsewhere from the opened copy: its states come from the first folder.
    save_timeline(opened, tmp_path / "again")
    assert_same_plot(open_timeline(tmp_path / "again").view(120).plot, child.view(120).plot)


def test_states_a_branch_shares_are_not_written_over_when_its_run_thins_them():
    net = network()
    t = Trainer(net)
    t.step()
    size = t.capture_state().nbytes
    live = Trainer(net)
    tl = Timeline.follow(live, budget=12 * size, every=4)
    tl.checkpoints.recent_span = 8

    def train(steps: int) -> None:
        while live.step_count < steps:
            tl.add(live, live.run_block(min(4, steps - live.step_count)))

    train(200)
    _, child = tl.branch(150)
    before = {s: child.view(s).plot for s in (21, 77, 149)}
    train(600)  # the run goes on, thinning (and reusing) its states
    assert tl.checkpoints.nbytes <= tl.checkpoints.budget
    for s, plot in before.items():
        assert_same_plot(child.view(s).plot, plot)


def test_an_opened_run_goes_on_as_if_never_stopped(tmp_path):
    net = network()
    tl = record_run(net, 90)
    save_run(tl, tmp_path / "run")
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 91
    opened = open_timeline(tmp_path / "run")
    trainer = opened.resume()
    run = straight(net, 90)
    assert trainer.step_count == 90
    assert trainer.history.latest.scalars == run.history.latest.scalars
    assert same_bits(trainer.history.latest.histograms, run.history.latest.histograms)
    for _ in range(25):
        record = trainer.step()
        opened.add(trainer, record)
        assert same_bits(record.node_stats, run.step().node_stats)
    assert opened.steps == 115
    assert same_bits(opened.view(100).plot.node_stats, opened.figures.stats[100])


def test_figure_rows_read_like_the_array_they_hold():
    rng = np.random.default_rng(1)
    whole = rng.normal(size=(2500, 3, 2))
    rows = Rows((3, 2))
    for start in range(0, 2500, 333):  # blocks that straddle the chunks
        rows.append(whole[start : start + 333])
    assert len(rows) == 2500 and same_bits(np.asarray(rows), whole)
    for key in (
        slice(1000, 1030),
        slice(0, 2500),
        slice(2047, 2049),
        slice(5, 5),
        slice(2400, None),
    ):
        assert same_bits(rows[key], whole[key]), key
    idx = np.array([0, 1023, 1024, 2499, 7, 2048])
    assert same_bits(rows[idx], whole[idx]) and same_bits(rows[2049], whole[2049])
    assert rows[1500, 2, 1] == whole[1500, 2, 1] and same_bits(rows[-1], whole[-1])
    assert same_bits(np.asarray(rows.head(1100)), whole[:1100])
    assert same_bits(rows[1000:1100, :, [1]], whole[1000:1100, :, [1]])
    assert same_bits(rows[0:3, 2], whole[0:3, 2]) and same_bits(
        rows[3:3, :, [0]], whole[3:3, :, [0]]
    )
