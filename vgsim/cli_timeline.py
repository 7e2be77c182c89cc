"""The command line's saved states: `vgsim run ... --checkpoint-every K [--checkpoint-budget MB]`,
`vgsim run RUN_DIR --from N [--set PATH=VALUE ...]` (a branch) and `vgsim replay RUN_DIR --at N
--dump-state F.npz`. The formats are in docs/checkpoints.md."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .engine.errors import VgsimError
from .engine.spec import Network
from .engine.validate import load_network

MB = 1 << 20


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use a whole number from 1 up")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use a number of megabytes above 0")
    return value


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        metavar="K",
        help="save the trainer's state every K steps, so any step can be recreated "
        "(vgsim replay) or branched from (--from)",
    )
    run.add_argument(
        "--checkpoint-budget",
        type=_megabytes,
        default=256.0,
        metavar="MB",
        help="at most this many megabytes of saved states: older ones are thinned out "
        "(default 256)",
    )
    run.add_argument(
        "--from",
        dest="from_step",
        type=int,
        metavar="N",
        help="branch: NETWORK is a run folder with saved states; continue it from step N "
        "(its state after N steps) into --out",
    )
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change the network first, e.g. training.clip.mode=norm, nodes.d1.init=he_normal "
        "(any field by its path; repeat for several)",
    )


def add_replay_command(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="recreate one step of a run from its saved states")
    replay.add_argument(
        "run_dir", metavar="RUN_DIR", help="a folder of vgsim run --checkpoint-every"
    )
    replay.add_argument("--at", type=int, required=True, metavar="N", help="the step (from 0)")
    replay.add_argument(
        "--dump-state",
        required=True,
        metavar="F.npz",
        help="write step N's state dump (the keys of vgsim run --dump-state)",
    )
    replay.add_argument("--quiet", action="store_true", help="print nothing but problems")
    replay.set_defaults(func=_replay)


def run_inputs(args: argparse.Namespace) -> tuple[Network, int, dict]:
    """The network, the steps and run_network's timeline keywords of `vgsim run`; VgsimError
    for options that do not go together."""
    from .experiments.overrides import apply_settings
    from .experiments.replay import open_branch

    source = Path(args.network)
    extra: dict = {"checkpoint_budget": int(args.checkpoint_budget * MB)}
    if args.checkpoint_every is not None:
        extra["checkpoint_every"] = args.checkpoint_every
    if args.from_step is None:
        if source.is_dir():
            raise VgsimError(
                f"{source} is a folder: to branch a run, say from which step (--from N)."
            )
        net = apply_settings(load_network(source), args.settings)
        steps = args.steps if args.steps is not None else int(net.training.get("steps", 500))
        return net, steps, extra
    if args.seed is not None:
        raise VgsimError("--seed does not go with --from: a branch keeps its run's batch order.")
    if Path(args.out).resolve() == source.resolve():
        raise VgsimError("--out must be another folder than the run a branch continues.")
    branch = open_branch(source, args.from_step, args.settings)
    steps = args.steps if args.steps is not None else branch.run_steps
    if steps <= args.from_step:
        raise VgsimError(
            f"--steps {steps}: a branch from step {args.from_step} needs more steps than that."
        )
    if args.dump_at is not None and args.dump_at < args.from_step:
        raise VgsimError(
            f"--dump-at {args.dump_at} comes before the branch (--from {args.from_step})."
        )
    extra["branch"] = branch
    return branch.timeline.network, steps, extra


def _replay(args: argparse.Namespace) -> int:
    from .experiments.replay import replay_dump

    done = replay_dump(Path(args.run_dir), args.at, Path(args.dump_state))
    if not args.quiet:
        print(
            f"wrote {args.dump_state}: step {done['step']}, replayed {done['replayed']} steps "
            f"from the state saved after {done['from_state']}"
        )
    return 0
