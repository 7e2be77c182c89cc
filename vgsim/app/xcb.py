"""Before the window starts on X11: are the system libraries Qt's xcb platform plugin loads there?

Without them Qt aborts with a message that names one library (often not the missing one). This
names every missing one and the apt command that installs them. No Qt import here: it runs
before the QApplication exists.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping
from typing import TextIO

# What PySide6's xcb plugin (libqxcb.so, libQt6XcbQpa.so, libQt6Gui.so) links against beyond
# Qt and the C/C++ runtime, by soname, with the Debian/Ubuntu package that ships it. Read with
# `readelf -d` (NEEDED) on the PySide6 wheels; check again when PySide6 is raised.
LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libdbus-1.so.3": "libdbus-1-3",
}
EXIT_MISSING = 2


def platform_is_xcb(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> bool:
    """Whether Qt will load its xcb plugin: on Linux, unless another platform is asked for or
    a Wayland session is where Qt 6 goes first."""
    if not system.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "").strip()
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    wayland = environ.get("XDG_SESSION_TYPE") == "wayland" and bool(environ.get("WAYLAND_DISPLAY"))
    return not wayland


def missing_libraries(libraries: Mapping[str, str] = LIBRARIES) -> dict[str, str]:
    """The libraries the dynamic loader cannot find, with their packages."""
    missing = {}
    for soname, package in libraries.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing[soname] = package
    return missing


def check(
    libraries: Mapping[str, str] = LIBRARIES,
    environ: Mapping[str, str] = os.environ,
    stream: TextIO | None = None,
) -> int:
    """0 if the window can start as far as these libraries go, else EXIT_MISSING after saying
    which are missing and how to install them."""
    if not platform_is_xcb(environ):
        return 0
    missing = missing_libraries(libraries)
    if not missing:
        return 0
    out = stream or sys.stderr
    names = ", ".join(missing)
    packages = " ".join(dict.fromkeys(missing.values()))
    print(
        f"vgsim cannot open its window: Qt's X11 (xcb) platform needs system libraries that "
        f"are not installed: {names}.\n"
        f"On Debian or Ubuntu, install them with:\n\n"
        f"    sudo apt-get install {packages}\n\n"
        f"(Headless commands such as `vgsim run` need none of them.)",
        file=out,
    )
    return EXIT_MISSING
