"""The lessons in the window: the menu in the lecture's order, the panel's text, framed plots."""

from __future__ import annotations

from PySide6.QtCore import Qt
from windows import wait_frame

from vgsim.app.files import RESOURCES
from vgsim.engine.lessons import PLOT_TITLES, list_lessons
from vgsim.engine.spec import read_network

LESSONS = list_lessons(RESOURCES / "lessons")


def framed(window) -> set[str]:
    return {
        key
        for key, item in window.dashboard.plot_items().items()
        if item.getViewBox().border.style() != Qt.PenStyle.NoPen
    }


def lessons_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&Lessons")


def test_the_lessons_menu_lists_the_lecture_in_order(window):
    texts = [a.text().replace("&", "") for a in lessons_menu(window).actions() if a.text()]
    count = len(LESSONS)
    assert texts[:count] == [f"{n.order}. {n.title}" for n in LESSONS]
    assert [n.order for n in LESSONS] == list(range(1, count + 1))
    assert [window.lessons.list.item(i).text() for i in range(count)] == texts[:count]


def test_the_names_lessons_use_for_plots_are_the_dashboards_titles(window):
    for key, plot in window.dashboard.plots.items():
        assert PLOT_TITLES[key] == plot.title


def test_opening_a_lesson_loads_it_frames_its_plots_and_explains(window, qtbot):
    first = LESSONS[0]
    lessons_menu(window).actions()[0].trigger()
    assert window.editor.model.network.name == read_name(first.path)
    assert window.editor.path is None  # an untitled copy: saving never overwrites the lesson
    assert window.lessons.current() == first
    assert framed(window) == set(first.look_at)
    text = window.lessons.text.toPlainText()
    assert first.title in text and "Look at:" in text
    assert all(PLOT_TITLES[k] in text for k in first.look_at)
    assert "The fix" in text and window.lessons.fix_button.isEnabled()
    window.files.open_preset(RESOURCES / "examples" / "relu-he.json")
    assert framed(window) == set()  # a network without a lesson: no frames


def test_run_trains_the_lessons_recommended_steps(window, qtbot):
    lesson = LESSONS[9]  # fewer layers: the shallow network of lesson 10 trains quickly
    window.open_lesson(lesson)
    wait_frame(qtbot, window, lambda f: len(f.nodes[0]) > 0 and f.step_count == 0)
    window.lessons.run_button.click()
    frame = wait_frame(
        qtbot, window, lambda f: f.step_count == lesson.steps and not f.playing, timeout=60000
    )
    assert frame.record.step == lesson.steps - 1


def read_name(path) -> str:
    return read_network(path).name


def test_try_the_fix_opens_the_lesson_and_its_fixes_side_by_side(window, qtbot):
    lesson = LESSONS[4]  # dying ReLU: four fixes
    window.open_lesson(lesson)
    window.lessons.fix_button.click()
    assert len(window.side_by_side.windows) == 1
    side = window.side_by_side.windows[0]
    qtbot.addWidget(side)
    labels = [card.title.toolTip() for card in side.cards]
    assert len(labels) == 1 + len(lesson.fixes) == 5
    assert labels[0] == read_name(lesson.path)
    side.close()


def test_the_depth_lesson_opens_as_a_comparison_and_closes_with_the_window(window, qtbot):
    lesson = LESSONS[10]
    assert lesson.compare
    window.open_lesson(lesson)
    assert len(window.side_by_side.windows) == 1
    side = window.side_by_side.windows[0]
    qtbot.addWidget(side)
    assert len(side.cards) == 3
    worker = side.worker
    window.close()
    qtbot.waitUntil(lambda: not worker.alive, timeout=10000)
