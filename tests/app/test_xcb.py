"""The start-up check of the system libraries Qt's X11 platform needs, and the README's apt line."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from vgsim.app import xcb

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = {"libvgsim-no-such-library.so.7": "vgsim-no-such-package"}


def test_a_missing_library_is_named_with_the_command_that_installs_it():
    out = io.StringIO()
    code = xcb.check({**NOWHERE, "libc.so.6": "libc6"}, {"QT_QPA_PLATFORM": "xcb"}, out)
    assert code == xcb.EXIT_MISSING == 2
    text = out.getvalue()
    assert "libvgsim-no-such-library.so.7" in text
    assert "sudo apt-get install vgsim-no-such-package\n" in text
    assert "libc.so.6" not in text  # present: not named


def test_nothing_is_said_when_every_library_is_there_or_the_platform_is_not_xcb():
    out = io.StringIO()
    assert xcb.check({"libc.so.6": "libc6"}, {"QT_QPA_PLATFORM": "xcb"}, out) == 0
    assert xcb.check(NOWHERE, {"QT_QPA_PLATFORM": "offscreen"}, out) == 0
    assert out.getvalue() == ""


def test_when_the_platform_will_be_xcb():
    assert xcb.platform_is_xcb({}, "linux")
    assert xcb.platform_is_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert xcb.platform_is_xcb({"QT_QPA_PLATFORM": "xcb;wayland"}, "linux")
    assert not xcb.platform_is_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not xcb.platform_is_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    assert not xcb.platform_is_xcb(
        {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux"
    )
    assert not xcb.platform_is_xcb({}, "darwin")
    assert not xcb.platform_is_xcb({}, "win32")


def test_the_app_exits_with_the_message_instead_of_qts_abort():
    """`vgsim` with a library missing: exit code 2 and the message, before Qt starts."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)  # were the check skipped, Qt would abort for want of a display
    script = (
        "import sys; from vgsim.app import xcb; "
        f"xcb.LIBRARIES.update({NOWHERE!r}); "
        "from vgsim.cli import main; sys.exit(main([]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "libvgsim-no-such-library.so.7" in done.stderr
    assert "sudo apt-get install" in done.stderr and "vgsim-no-such-package" in done.stderr
    assert "qt.qpa" not in done.stderr


def test_the_readme_installs_every_library_in_one_apt_line():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^sudo apt-get install (.+)$", readme, flags=re.MULTILINE)
    assert len(lines) == 1
    assert lines[0].split() == list(dict.fromkeys(xcb.LIBRARIES.values()))
