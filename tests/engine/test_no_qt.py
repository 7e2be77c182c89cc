"""The engine never needs Qt: it imports and trains with every Qt binding blocked."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "vgsim" / "engine"
BLOCKED = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph")

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {blocked!r}

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked for this test: {{name}}")
            return None

    sys.meta_path.insert(0, BlockQt())

    # the blocker works (PySide6 and pyqtgraph are installed for the app)
    for name in BLOCKED:
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"the blocker let {{name}} through")

    import vgsim.engine as engine

    net = engine.Network.from_dict({{
        "format": "vgsim.network/1",
        "data": {{"name": "moons", "samples": 100}},
        "nodes": [{{"id": "in", "type": "input"}},
                  {{"id": "d", "type": "dense", "units": 8}},
                  {{"id": "a", "type": "activation", "function": "tanh"}},
                  {{"id": "d2", "type": "dense", "units": 2}},
                  {{"id": "out", "type": "output"}}],
        "edges": [{{"from": "in", "to": "d"}}, {{"from": "d", "to": "a"}},
                  {{"from": "a", "to": "d2"}}, {{"from": "d2", "to": "out"}}],
        "training": {{"batch_size": 16}},
    }})
    trainer = engine.Trainer(net)
    records = [trainer.step() for _ in range(3)]
    assert [r.step for r in records] == [0, 1, 2], records
    assert all(r.divergence is None for r in records)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("trained", len(records), "steps")
    """
).format(blocked=BLOCKED)


def test_engine_imports_and_trains_with_qt_blocked() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "trained 3 steps" in result.stdout


def _imported_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            names += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.module:
            names.append(n.module)
            names += [f"{n.module}.{a.name}" for a in n.names]
        elif isinstance(n, ast.Call):
            # importlib.import_module("...") / __import__("...")
            f = n.func
            fname = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if fname in ("import_module", "__import__") and n.args:
                arg = n.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.append(arg.value)
    return names


def test_no_engine_module_imports_qt() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 10  # the scan sees the engine
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree):
            if any(q.lower() in name.lower() for q in BLOCKED):
                offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


def test_the_scan_would_catch_a_qt_import() -> None:
    src = (
        "import numpy\nfrom PySide6.QtCore import QObject\nimport pyqtgraph as pg\n"
        "import importlib\nimportlib.import_module('PyQt6')\n"
    )
    names = _imported_names(ast.parse(src))
    hits = [n for n in names if any(q.lower() in n.lower() for q in BLOCKED)]
    assert "PySide6.QtCore" in hits and "pyqtgraph" in hits and "PyQt6" in hits
