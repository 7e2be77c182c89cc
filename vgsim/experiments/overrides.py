"""`--set PATH=VALUE`: change a network by the paths a sweep's axes use (sweeps/edits.py).

training.clip.mode=norm      training.lr=0.003      nodes.d3.init=he_normal
activation.function=tanh     dense.init.gain=2      data.noise=0.2

PATH names a field of the network file (a block by its id: nodes.<id>.<field>), or a setting of
every hidden dense layer (dense.<field>) or activation (activation.<field>), or a structural
setting of a chain (blocks, batchnorm, skip). VALUE is read as JSON (numbers, true/false/null,
"strings", {...}, [...]); anything that is not JSON is a plain string (norm, tanh). The changed
network is validated as a whole.
"""

from __future__ import annotations

import json

from ..engine.errors import NetworkError, VgsimError
from ..engine.spec import Network
from ..engine.validate import validate
from .sweeps.edits import SweepError, apply, check_path


class SettingError(VgsimError):
    """A --set that does not name a setting of the network, or names it badly."""


def parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_settings(net: Network, assignments: list[str]) -> Network:
    """A copy of `net` with every `PATH=VALUE` applied in order; SettingError for a malformed
    one, NetworkError listing the problems of the network that results."""
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        path = path.strip()
        problem = check_path(path) if sep else "write PATH=VALUE, e.g. training.clip.mode=norm"
        if problem:
            raise SettingError(f"--set {assignment}: {problem}.")
        try:
            net = apply(net, path, parse_value(text))
        except SweepError as exc:
            raise SettingError(f"--set {assignment}: {exc}") from None
    problems = validate(net)
    if problems:
        raise NetworkError(problems)
    return net
