"""Scenario files: the schema, numeric quantities and distributions, loading and overrides."""

from .loader import (
    LoadedScenario,
    ScenarioError,
    apply_overrides,
    deep_merge,
    from_mapping,
    load_scenario,
    parse_override,
    read_raw,
)
from .tree import get_path, set_path

__all__ = [
    "LoadedScenario", "ScenarioError", "apply_overrides", "deep_merge", "from_mapping",
    "get_path", "load_scenario", "parse_override", "read_raw", "set_path",
]
