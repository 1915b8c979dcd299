"""Dotted paths into a scenario's parameter tree (e.g.
``countries.Pakistan.domestic.opposition_strength``).

The same path names a parameter in a scenario file, in `--set`, in the runs table (`param.<path>`)
and in the trace.
"""

from __future__ import annotations

from typing import Any


def get_path(tree: dict, path: str):
    node: Any = tree
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def set_path(tree: dict, path: str, value) -> dict:
    """Return a copy of `tree` with `path` set, copying only the containers along the path."""
    parts = path.split(".")

    def go(node, i):
        key = int(parts[i]) if isinstance(node, list) else parts[i]
        new = list(node) if isinstance(node, list) else dict(node)
        new[key] = value if i == len(parts) - 1 else go(node[key], i + 1)
        return new

    return go(tree, 0)
