"""The window: PySide6 + pyqtgraph. Imports the engine; the engine never imports this."""
