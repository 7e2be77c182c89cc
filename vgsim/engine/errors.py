"""Typed errors whose messages a student can act on."""

from __future__ import annotations

from dataclasses import dataclass

QUOTE_LIMIT = 80


def shown(value: object, limit: int = QUOTE_LIMIT) -> str:
    """repr(value) for a message, cut to about `limit` characters: a bad value may be a
    megabyte of text, and the message should still fit on a screen."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a network description.

    `where` is a node id, or one of "format", "data", "training", "edges", "nodes".
    """

    where: str
    message: str

    def __str__(self) -> str:
        return self.message


class VgsimError(Exception):
    """Base of every error the engine raises on purpose."""


class NetworkError(VgsimError):
    """A network description is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [f"- {p.message}" for p in self.problems]
        super().__init__("The network is not valid:\n" + "\n".join(lines))


class NetworkFileError(VgsimError):
    """A file could not be read as a network (not JSON, wrong format, unreadable)."""


class DataError(VgsimError):
    """A data set could not be built or read (missing CSV, non-numeric cell, bad target)."""
