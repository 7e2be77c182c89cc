"""The frame hand-over both training threads share: errors are reported, not fatal; the window
draws only new frames, and waits after a slow draw."""

from __future__ import annotations

import time
from dataclasses import dataclass

from vgsim.app.threads import FramePacer, FrameThread


@dataclass
class Note:
    serial: int
    error: str | None = None


class Failing(FrameThread):
    def __init__(self) -> None:
        super().__init__("test-thread")
        self.serial = 0
        self._start()

    def _handle(self, command: str, args: tuple) -> None:
        if command == "play":
            self._playing = True
        self._publish()

    def _work(self) -> None:
        raise RuntimeError("broken kernel")

    def _publish(self, error: str | None = None) -> None:
        self.serial += 1
        self._hand_over(Note(self.serial, error))


def test_an_error_while_playing_is_handed_over_and_the_thread_goes_on():
    thread = Failing()
    try:
        thread.send("play")
        deadline = time.time() + 5
        while time.time() < deadline and not (thread.latest() and thread.latest().error):
            time.sleep(0.01)
        assert thread.latest().error == "RuntimeError: broken kernel"
        assert thread.alive and not thread._playing
        thread.send("pause")
        deadline = time.time() + 5
        while time.time() < deadline and thread.latest().error:
            time.sleep(0.01)
        assert thread.latest().error is None  # still answering commands
    finally:
        thread.stop()
    assert not thread.alive


class Fixed:
    def __init__(self) -> None:
        self.frame: Note | None = None

    def latest(self) -> Note | None:
        return self.frame


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_draws_each_new_frame_once_and_waits_after_a_slow_draw():
    source, drawn, clock = Fixed(), [], Clock()
    pacer = FramePacer(busy_share=0.5, clock=clock)
    assert pacer.poll(source, drawn.append) is None  # nothing yet
    source.frame = Note(1)
    assert pacer.poll(source, drawn.append) is source.frame
    assert pacer.poll(source, drawn.append) is None  # the same frame is not drawn twice

    def slow(frame: Note) -> None:
        drawn.append(frame)
        clock.now += 0.05

    source.frame = Note(2)
    started = clock.now
    assert pacer.poll(source, slow) is source.frame
    source.frame = Note(3)
    # 50 ms of drawing at half the time: the next draw waits until 100 ms after the slow one
    # began (50 ms after it ended).
    clock.now = started + 0.0999
    assert pacer.poll(source, drawn.append) is None
    clock.now = started + 0.1
    assert pacer.poll(source, drawn.append) is source.frame
    assert [n.serial for n in drawn] == [1, 2, 3]


def test_a_quick_draw_lets_the_next_frame_through_at_once():
    source, drawn, clock = Fixed(), [], Clock()
    pacer = FramePacer(busy_share=0.5, clock=clock)
    for serial in range(1, 4):
        source.frame = Note(serial)
        assert pacer.poll(source, drawn.append) is source.frame  # no time passed drawing
    assert [n.serial for n in drawn] == [1, 2, 3]
