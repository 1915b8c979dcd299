"""The one error every scenario problem is reported with: file, key path and problem.

It lives in a module of its own so that the quantity layer (which checks values at run time)
and the loader can both raise it without importing each other.
"""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario that cannot be used. `problems` holds (file, key path, message) triples."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__(self.format())

    def __reduce__(self):
        # Raised in worker processes too: rebuild from the triples, not from the joined text.
        return (type(self), (self.problems,))

    def format(self) -> str:
        lines = []
        for file, key, msg in self.problems:
            where = f"{file}: {key}: " if key else f"{file}: "
            lines.append(where + msg)
        return "\n".join(lines)


class NonFiniteError(ScenarioError):
    """A parameter met a value that is not a finite number while a run was going on."""
