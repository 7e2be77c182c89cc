"""The main window's commands on the canvas: a new network, the selection, copy and paste, and
adding blocks after the selected one (mixed into MainWindow; every edit goes through Editor)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from ..engine.spec import Network, NodeSpec
from .dialogs import AddLayersDialog


class CanvasActions:
    def new_network(self) -> None:
        if self.files.maybe_discard():
            net = Network(
                name="untitled",
                nodes=[
                    NodeSpec("in", "input", pos=(0.0, 0.0)),
                    NodeSpec("out", "output", {"loss": "softmax_cross_entropy"}, pos=(450.0, 0.0)),
                ],
            )
            self.editor.load(net, None)

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def select_node(self, node_id: str) -> None:
        self.scene.clearSelection()
        item = self.scene.nodes.get(node_id)
        if item is not None:
            item.setSelected(True)
            self.view.centerOn(item)

    def select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    def delete_selection(self) -> None:
        self.editor.delete(self.scene.selected_node_ids(), self.scene.selected_edges())

    def copy_selection(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            QGuiApplication.clipboard().setText(self.editor.copy_fragment(ids))
            self.statusBar().showMessage(f"Copied {len(ids)} block(s).", 3000)

    def paste(self) -> None:
        created = self.editor.paste_fragment(QGuiApplication.clipboard().text())
        self.scene.clearSelection()
        for node_id in created:
            if node_id in self.scene.nodes:
                self.scene.nodes[node_id].setSelected(True)

    def _anchor(self) -> str | None:
        ids = self.scene.selected_node_ids()
        return ids[-1] if ids else None

    def add_pair(self) -> None:
        self.editor.insert_layers(self._anchor(), 1, 32, "relu", "he_normal")

    def add_layers(self) -> None:
        anchor = self._anchor()
        image = self.editor.gives_image(anchor)  # convolutions are offered after an image
        kind = "conv2d" if image else "dense"
        dialog = AddLayersDialog(self, units=16 if image else 32, kind=kind)
        if dialog.exec():
            v = dialog.values()
            self.editor.insert_layers(
                anchor, v["count"], v["units"], v["function"], v["init"], v["batchnorm"], v["kind"]
            )
            self.view.fit()

    def wrap_residual(self) -> None:
        ids = self.scene.selected_node_ids()
        self.editor.wrap_residual(ids)

    def _add_block_after_selection(self, name: str) -> None:
        anchor = self._anchor()
        if anchor is None:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            self.editor.add_block(name, center)
            return
        outgoing = self.editor.model.outgoing(anchor)
        x, y = self.editor.model.node(anchor).pos or (0.0, 0.0)
        self.editor.add_block(
            name, (x + 75.0, y + 80.0), (anchor, outgoing[0]) if outgoing else None
        )

    def _explain_skip_tool(self) -> None:
        self.statusBar().showMessage(
            "Skip connection: drag from a block's output port (right dot) onto a later block. "
            "Or select a chain of blocks and use Build ▸ Wrap in residual block.",
            10000,
        )
