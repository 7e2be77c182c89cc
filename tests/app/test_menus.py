"""The menus the window builds: what it keeps of them, and the actions that reach into it."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QToolBar

from vgsim.app.menus import Menus
from vgsim.engine.builders import mlp
from vgsim.engine.spec import save_network


def menu_named(window, title: str):
    for action in window.menuBar().actions():
        if action.text() == title:
            return action.menu()
        for sub in action.menu().actions() if action.menu() else []:
            if sub.text() == title:
                return sub.menu()
    raise AssertionError(f"no menu {title!r}")


def test_the_window_keeps_its_menus_in_one_object(window):
    assert isinstance(window.menus, Menus)
    assert window.menus.train is menu_named(window, "&Train")
    assert window.menus.recent is menu_named(window, "Open &Recent")
    assert window.actions["play"] in window.menus.toolbar.actions()


def test_open_recent_lists_opened_files_and_opens_them(window, tmp_path):
    recent = window.menus.recent
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()] == ["(none yet)"]
    assert not recent.actions()[0].isEnabled()
    path = tmp_path / "small.json"
    net = mlp(4, 8, 3, activation="relu", init="he_normal", name="small")
    save_network(net, path)
    assert window.files.open_path(path)
    window.editor.load(mlp(4, 8, 3, activation="tanh", name="other"), None)
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()] == [str(path)]
    recent.actions()[0].trigger()
    assert window.editor.model.network.name == json.loads(path.read_text())["name"]


def test_select_all_selects_every_block(window):
    window.actions["select_all"].trigger()
    assert sorted(window.scene.selected_node_ids()) == sorted(
        n.id for n in window.editor.model.network.nodes
    )


def test_every_toolbar_button_fits_a_1280x720_window(window, qtbot):
    """No button is pushed into a toolbar's overflow menu (») on a laptop screen."""
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.size().width() == 1280, timeout=5000)
    qtbot.wait(30)
    for bar in window.findChildren(QToolBar):
        hidden = [a.text() for a in bar.actions() if not bar.widgetForAction(a).isVisible()]
        assert hidden == [], f"{bar.windowTitle()} toolbar: {hidden} in the overflow"
