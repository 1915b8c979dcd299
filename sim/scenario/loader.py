"""Loading scenario files: YAML, `extends`, validation, clear errors, and per-run sampling.

`load_scenario(path)` returns a `LoadedScenario`: the validated scenario, its parameters as a
plain tree (dotted paths such as ``countries.Pakistan.domestic.opposition_strength``), the
uncertain parameters among them, and `sample(rng)` which draws one run's concrete parameters.
Every problem is raised as a `ScenarioError` naming the file, the key path and the problem.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import AfterValidator, BaseModel, ValidationError

from .. import rng
from .quantity import FORM_KEYS, FlagForm, InRange, _Form, fixed_value, is_distribution
from .schema import CrossReferenceError, Event, Scenario
from .tree import get_path, set_path


class ScenarioError(Exception):
    """A scenario that cannot be used. `problems` holds (file, key path, message) triples."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        lines = []
        for file, key, msg in self.problems:
            where = f"{file}: {key}: " if key else f"{file}: "
            lines.append(where + msg)
        return "\n".join(lines)


# --------------------------------------------------------------------------- YAML reading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _read_yaml(path: Path, text: str) -> dict:
    shown = str(path)
    if not text.strip():
        raise ScenarioError([(shown, "", "the file is empty")])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        kind = "" if problem.startswith("duplicate key") else "malformed YAML: "
        raise ScenarioError([(shown, "", f"{kind}{where}{problem}")]) from None
    if data is None:
        raise ScenarioError([(shown, "", "the file holds no settings")])
    if not isinstance(data, dict):
        raise ScenarioError(
            [(shown, "", f"the top level must be a mapping of keys, not a {type(data).__name__}")]
        )
    return data


def _is_quantity_dict(v: Any) -> bool:
    return isinstance(v, dict) and any(k in v for k in FORM_KEYS)


def deep_merge(base: dict, over: dict) -> dict:
    """Merge `over` onto `base`: mappings merge key by key, everything else is replaced.

    A quantity written as a mapping (``{uniform: [...]}``) is one value and is replaced whole;
    a key set to null in `over` is removed (e.g. ``countries: {Turkey: null}``).
    """
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif (
            isinstance(v, dict) and isinstance(out.get(k), dict)
            and not _is_quantity_dict(v) and not _is_quantity_dict(out[k])
        ):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_raw(path: str | Path, _chain: tuple[Path, ...] = (), *,
             within: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """Read a scenario file and its `extends` ancestors; return the merged mapping and texts.

    `within`: if given, every file (the scenario and each parent) must lie, after symlinks are
    resolved, inside one of these folders; anything else is refused before it is opened."""
    path = Path(path)
    shown = str(path)
    if within:
        _check_within(path, within, shown)
    if not path.exists():
        raise ScenarioError([(shown, "", "file not found")])
    if path.is_dir():
        raise ScenarioError([(shown, "", "is a folder, not a scenario file")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([(shown, "", f"cannot be read: {e}")]) from None
    data = _read_yaml(path, text)
    texts = {shown: text}
    parent = data.get("extends")
    if parent is None:
        return data, texts
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError([(shown, "extends", "must be the path of another scenario file")])
    parent_path = (path.parent / parent).resolve()
    chain = (*_chain, path.resolve())
    if parent_path in chain:
        cycle = " -> ".join(p.name for p in (*chain, parent_path))
        raise ScenarioError([(shown, "extends", f"circular extends: {cycle}")])
    if within:  # before the existence check below, which would tell what exists outside
        _check_within(parent_path, within, shown, key="extends")
    if not parent_path.exists():
        raise ScenarioError([(shown, "extends", f"parent scenario '{parent}' not found "
                              f"(looked for {parent_path})")])
    base, parent_texts = read_raw(parent_path, chain, within=within)
    child = {k: v for k, v in data.items() if k != "extends"}
    merged = deep_merge({k: v for k, v in base.items() if k != "extends"}, child)
    merged["extends"] = parent
    return merged, {**parent_texts, **texts}


def _check_within(path: Path, within: tuple[Path, ...], shown: str, key: str = "") -> None:
    """Confinement for callers that serve other people (the explorer): `path`, symlinks
    resolved, must lie inside one of the folders `within` (also resolved)."""
    real = path.resolve()
    if not any(real.is_relative_to(root.resolve()) for root in within):
        raise ScenarioError([(shown, key, "outside the folders scenarios may be read from ("
                              + ", ".join(str(r) for r in within) + ")")])


# --------------------------------------------------------------------------- validation


def _annotation_at(loc: tuple) -> tuple[list[str] | None, tuple]:
    """Follow a pydantic error location through the schema.

    Returns the valid keys at that location (if it is a mapping with fixed keys) and the
    location with pydantic's internal union tags removed, for display.
    """
    ann: Any = Scenario
    shown: list = []
    keys: list[str] | None = list(Scenario.model_fields)
    for part in loc:
        ann = _strip_annotated(ann)
        origin = typing.get_origin(ann)
        if origin in (typing.Union, types.UnionType):
            members = [_strip_annotated(a) for a in typing.get_args(ann)]
            tagged = {_tag_of(a): a for a in members}
            if part in tagged:  # a discriminated-union tag, not a real key
                ann = tagged[part]
                continue
            non_none = [a for a in members if a is not type(None)]
            ann = non_none[0] if len(non_none) == 1 else None
            ann = _strip_annotated(ann)
            origin = typing.get_origin(ann)
        shown.append(part)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            f = ann.model_fields.get(part)
            ann = f.annotation if f else None
        elif origin is dict:
            ann = typing.get_args(ann)[1]
        elif origin is list:
            ann = typing.get_args(ann)[0]
        else:
            ann = None
    ann = _strip_annotated(ann)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        non_none = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = _strip_annotated(non_none[0]) if len(non_none) == 1 else None
    keys = list(ann.model_fields) if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return keys, tuple(shown)


def _strip_annotated(ann):
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def _tag_of(ann) -> str | None:
    if isinstance(ann, type) and issubclass(ann, _Form):
        return next((k for k in FORM_KEYS if k in ann.model_fields), None)
    if ann is float:
        return "number"
    return None


def _dotted(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _explain(err: dict, file: str) -> list[tuple[str, str, str]]:
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, CrossReferenceError):
        base = tuple(err["loc"])
        return [(file, _dotted(_annotation_at(base + tuple(loc))[1]), msg)
                for loc, msg in ctx_error.problems]
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        keys, shown_parent = _annotation_at(loc[:-1])
        bad = loc[-1]
        msg = f"unknown key '{bad}'"
        close = difflib.get_close_matches(str(bad), keys or [], n=1, cutoff=0.5)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
        elif keys:
            msg += f"; valid keys here: {', '.join(keys)}"
        return [(file, _dotted((*shown_parent, bad)), msg)]
    _, shown = _annotation_at(loc)
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "missing":
        msg = "required key is missing"
    elif kind == "quantity" and isinstance(err.get("input"), dict):
        allowed = [*FORM_KEYS, "source", "weights"]
        for key in err["input"]:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
                msg = f"unknown form '{key}'" + (f" (did you mean '{close[0]}'?)" if close
                                                  else "") + "; " + msg
                break
    elif "input" in err and kind not in ("quantity", "value_error") \
            and not isinstance(err["input"], dict):
        msg += f" (got {err['input']!r})"
    return [(file, _dotted(shown), msg)]


#: keys of Model 1 scenario files that Model 2 replaced (docs/ODD.md, section 8)
RETIRED = {
    ("convener", "invite"): "the convener now invites in waves, anticipating Israel's veto "
                            "(docs/ODD.md R8a); remove it",
    ("convener", "reserve"): "the convener now invites a second wave itself; remove it",
    ("convener", "reserve_after"): "renamed 'wave_after' (short rounds before the second wave)",
    ("convener", "concession_prob"): "concessions now follow memory: use 'resolve' and "
                                     "'israel_deference' (docs/ODD.md R8b)",
    ("israel", "threshold"): "renamed 'tolerance'",
    ("israel", "required_tasks"): "now 'demands: {<task>: {weight: 1, softer_credit: ...}}'",
    ("israel", "missing_task_penalty"): "renamed 'unmet_demand_penalty'",
    ("israel", "mandate_pressure_threshold"): "replaced by 'mandate_pressure_effect' (the "
                                              "satisfaction one unit of pressure makes up)",
}


def _retired_keys(data: dict, file: str) -> None:
    problems = [(file, ".".join(path), f"a Model 1 key: {why}")
                for path, why in RETIRED.items()
                if isinstance(data.get(path[0]), dict) and path[1] in data[path[0]]]
    if problems:
        raise ScenarioError(problems)


def validate_mapping(data: dict, file: str) -> Scenario:
    """Validate a merged scenario mapping; raise ScenarioError with every problem found."""
    _retired_keys(data, file)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        problems: list[tuple[str, str, str]] = []
        for err in e.errors():
            for p in _explain(err, file):
                if p not in problems:
                    problems.append(p)
        raise ScenarioError(problems) from None
    return scenario


# --------------------------------------------------------------------------- parameter tree


def _range_of(metadata) -> InRange | None:
    for m in metadata:
        if isinstance(m, AfterValidator) and isinstance(m.func, InRange):
            return m.func
    return None


def _field_range(finfo) -> InRange | None:
    """The range of a quantity field, also when it is optional (`Prob | None`)."""
    found = _range_of(finfo.metadata)
    if found is None and typing.get_origin(finfo.annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(finfo.annotation):
            found = found or _range_of(getattr(arg, "__metadata__", ()))
    return found


def _tree(obj, ann, path, bounds, sources):
    """Turn validated objects into plain dicts/lists; record each quantity's range and source."""
    if isinstance(obj, FlagForm):
        return obj.value
    if isinstance(obj, BaseModel):
        out = {}
        for name, finfo in type(obj).model_fields.items():
            value = getattr(obj, name)
            sub = f"{path}.{name}" if path else name
            rng = _field_range(finfo)
            if rng is not None and value is not None:
                bounds[sub] = rng
                if isinstance(value, _Form) and value.source:
                    sources[sub] = value.source
                out[name] = _leaf(value)
            elif name in ("set", "add") and isinstance(obj, Event):
                out[name] = dict(value)  # paths as keys: not parameters themselves
            else:
                out[name] = _tree(value, finfo.annotation, sub, bounds, sources)
        return out
    if isinstance(obj, dict):
        val_ann = typing.get_args(_strip_annotated(ann))[1] if ann is not None else None
        rng = _range_of(getattr(val_ann, "__metadata__", ()))
        out = {}
        for k, v in obj.items():
            sub = f"{path}.{k}"
            if rng is not None:
                bounds[sub] = rng
                if isinstance(v, _Form) and v.source:
                    sources[sub] = v.source
                out[k] = _leaf(v)
            else:
                out[k] = _tree(v, val_ann, sub, bounds, sources)
        return out
    if isinstance(obj, list):
        inner = _strip_annotated(ann)
        item_ann = typing.get_args(inner)[0] if typing.get_args(inner) else None
        return [_tree(v, item_ann, f"{path}.{i}", bounds, sources) for i, v in enumerate(obj)]
    return obj


def _leaf(q):
    q = fixed_value(q)
    return q if is_distribution(q) else float(q)


def _flags(obj, path: str, out: dict) -> None:
    """Every true/false leaf of the validated scenario (plain or with a source), by path."""
    if isinstance(obj, FlagForm):
        out[path] = obj.value
    elif isinstance(obj, bool):
        out[path] = obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            if name not in ("set", "add"):  # event targets, not settings
                _flags(getattr(obj, name), f"{path}.{name}" if path else name, out)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flags(v, f"{path}.{k}", out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _flags(v, f"{path}.{i}", out)


@dataclass
class LoadedScenario:
    """A validated scenario ready to run."""

    path: str
    scenario: Scenario
    raw: dict
    texts: dict[str, str]
    tree: dict
    bounds: dict[str, InRange]
    sources: dict[str, str]
    uncertain: list[tuple[str, Any]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self):
        # The numeric parameters as one flat vector (path -> column): fixed values in `base`,
        # the uncertain ones drawn per run by `draw`.
        self.paths: list[str] = list(self.bounds)
        self.column = {p: i for i, p in enumerate(self.paths)}
        nominal = {p: d.nominal() for p, d in self.uncertain}
        self.base = np.array([nominal.get(p, get_path(self.tree, p)) if p in nominal
                              else float(get_path(self.tree, p)) for p in self.paths], float)
        self.uncertain_columns = np.array([self.column[p] for p, _ in self.uncertain], int)
        self.uncertain_keys = np.array([rng.name_key(p) for p, _ in self.uncertain], np.uint64)
        self.public = dict(zip(self.paths, self.base.tolist(), strict=True))

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def event_paths(self) -> list[str]:
        """Parameters that some event may change during a run."""
        return sorted({p for ev in self.scenario.events for p in (*ev.set, *ev.add)})

    @property
    def digest(self) -> str:
        """SHA-256 of the scenario text(s), parents included."""
        h = hashlib.sha256()
        for name in sorted(self.texts):
            h.update(name.encode() + b"\0" + self.texts[name].encode() + b"\0")
        return h.hexdigest()

    def draw(self, seeds) -> np.ndarray:
        """The uncertain parameters of the runs with these run seeds: one row per run, one
        column per uncertain parameter (in `uncertain` order). Each value is its
        distribution's inverse CDF at a counter-based uniform number of the run seed and the
        parameter's path, so it depends on nothing else; distributions of one form are
        evaluated together, element by element."""
        seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
        u = rng.uniforms(seeds, rng.PARAM, self.uncertain_keys)
        out = np.empty_like(u)
        for cols, quantile in self._quantile_groups():
            out[:, cols] = quantile(u[:, cols])
        return out

    def _quantile_groups(self):
        """Columns of the uniform and triangular parameters (the bulk), each form evaluated
        as one array operation; every other distribution on its own."""
        if getattr(self, "_groups", None) is None:
            groups = []
            uni = [(k, d) for k, (_, d) in enumerate(self.uncertain) if type(d).__name__ ==
                   "Uniform"]
            tri = [(k, d) for k, (_, d) in enumerate(self.uncertain) if type(d).__name__ ==
                   "Triangular"]
            if uni:
                lo = np.array([d.uniform[0] for _, d in uni])
                hi = np.array([d.uniform[1] for _, d in uni])
                groups.append(([k for k, _ in uni], lambda u, lo=lo, hi=hi: lo + u * (hi - lo)))
            if tri:
                a, m, b = (np.array([d.triangular[i] for _, d in tri]) for i in range(3))
                groups.append(([k for k, _ in tri], lambda u, a=a, m=m, b=b: _triangular(
                    u, a, m, b)))
            cho = [(k, d) for k, (_, d) in enumerate(self.uncertain) if type(d).__name__ ==
                   "Choice"]
            if cho:
                width = max(len(d.choice) for _, d in cho)
                cum = np.full((len(cho), width), np.inf)
                val = np.zeros((len(cho), width))
                for j, (_, d) in enumerate(cho):
                    c, v = d.cumulative()
                    cum[j, :len(c)], val[j, :len(v)] = c, v
                last = np.array([len(d.choice) - 1 for _, d in cho])
                groups.append(([k for k, _ in cho], lambda u, cum=cum, val=val, last=last:
                               _choice(u, cum, val, last)))
            done = {k for k, _ in (*uni, *tri, *cho)}
            for k, (_, d) in enumerate(self.uncertain):
                if k not in done:
                    groups.append(([k], d.quantile))
            self._groups = groups
        return self._groups

    def params(self, seed: int, fixed: dict | None = None) -> tuple[dict, dict]:
        """One run's parameters as a flat mapping (numeric paths and true/false flags), and the
        drawn values of its uncertain parameters; `fixed` (path -> value) replaces values
        after the draw, so it shifts no other draw."""
        values = self.base.copy()
        drawn_values = self.draw([seed])[0]
        values[self.uncertain_columns] = drawn_values
        out = dict(zip(self.paths, values.tolist(), strict=True))
        drawn = dict(zip((p for p, _ in self.uncertain), drawn_values.tolist(), strict=True))
        for path, value in (fixed or {}).items():
            out[path] = value
            drawn[path] = value
        out.update(self.flags)
        return out, drawn

    def nominal(self) -> dict:
        """The tree with every distribution replaced by its central value."""
        tree = self.tree
        for path, dist in self.uncertain:
            tree = set_path(tree, path, dist.nominal())
        return tree


def _triangular(u, a, m, b):
    """The triangular inverse CDF of `Triangular.quantile`, for arrays of parameters."""
    cut = (m - a) / (b - a)
    low = a + np.sqrt(u * (b - a) * (m - a))
    high = b - np.sqrt((1.0 - u) * (b - a) * (b - m))
    return np.where(u < cut, low, high)


def _choice(u, cum, val, last):
    """`Choice.quantile` for a group of choices at once: the number of cumulative weights at or
    below u (numpy's searchsorted, side="right"), capped at the last value."""
    idx = np.minimum((u[:, :, None] >= cum[None, :, :]).sum(axis=2), last)
    return np.take_along_axis(val[None, :, :].repeat(len(u), 0), idx[:, :, None], 2)[:, :, 0]


def from_mapping(data: dict, file: str = "<scenario>", texts: dict | None = None) -> LoadedScenario:
    """Validate an already-read scenario mapping (used by tests, overrides and the explorer)."""
    scenario = validate_mapping(copy.deepcopy(data), file)
    _expand_others(scenario, file)
    bounds: dict[str, InRange] = {}
    sources: dict[str, str] = {}
    tree = _tree(scenario, Scenario, "", bounds, sources)
    uncertain = [(p, get_path(tree, p)) for p in bounds if is_distribution(get_path(tree, p))]
    flags: dict[str, bool] = {}
    _flags(scenario, "", flags)
    loaded = LoadedScenario(
        path=file, scenario=scenario, raw=data, texts=texts or {}, tree=tree,
        bounds=bounds, sources=sources, uncertain=uncertain, flags=flags,
    )
    _check_events(loaded, file)
    return loaded


def _expand_others(scenario: Scenario, file: str) -> None:
    """Turn the `others` template into countries '<name> 1' ... '<name> N' (each then has its
    own parameters, drawn independently)."""
    others = scenario.others
    if others is None:
        return
    problems = []
    for i in range(1, others.count + 1):
        name = f"{others.name} {i}"
        if name in scenario.countries:
            problems.append((file, f"countries.{name}", f"clashes with the unnamed candidate "
                             f"'{name}' of `others`; rename one of them"))
        scenario.countries[name] = others.country
    if problems:
        raise ScenarioError(problems)


def _check_events(loaded: LoadedScenario, file: str) -> None:
    problems = []
    for i, ev in enumerate(loaded.scenario.events):
        for kind in ("set", "add"):
            for path, value in getattr(ev, kind).items():
                key = f"events[{i}].{kind}.{path}"
                if path not in loaded.bounds:
                    close = difflib.get_close_matches(path, list(loaded.bounds), n=1, cutoff=0.7)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    if path in loaded.flags and kind == "set":
                        if not isinstance(value, bool):
                            problems.append((file, key, "this switch takes true or false"))
                        continue
                    problems.append((file, key, f"no numeric parameter at '{path}'{hint}"))
                elif isinstance(value, bool):
                    problems.append((file, key, "this parameter takes a number, not true/false"))
                elif kind == "set":
                    try:
                        loaded.bounds[path](value)
                    except ValueError as e:
                        problems.append((file, key, str(e)))
        last = loaded.scenario.calendar.rounds
        if ev.round is not None and ev.round > last:
            problems.append((file, f"events[{i}].round",
                             f"round {ev.round} is after the deadline (round {last})"))
    if problems:
        raise ScenarioError(problems)


def parse_override(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` -> (dotted key, value); the value is read as YAML (0.8, true, {uniform: ...})."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([("--set", text, "expected KEY=VALUE, e.g. "
                              "countries.Pakistan.domestic.opposition_strength=0.8")])
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as e:
        raise ScenarioError([("--set", key, f"value '{value}' is not valid YAML: "
                              f"{getattr(e, 'problem', e)}")]) from None
    return key, parsed


def apply_overrides(data: dict, overrides, file: str) -> dict:
    """Set dotted keys in a scenario mapping (a copy); names of countries, tasks and other
    keyed entries must exist, so a typo is reported rather than creating a new entry."""
    data = copy.deepcopy(data)
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[:depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError([(file, where, f"--set {key}: no item {part} in a list "
                                          f"of {len(node)}")])
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
                continue
            if not isinstance(node, dict):
                raise ScenarioError([(file, ".".join(parts[:depth]), f"--set {key}: this "
                                      "value has no keys below it")])
            if part not in node:
                fields, _ = _annotation_at(tuple(int(p) if p.isdigit() else p
                                                 for p in parts[:depth]))
                allowed = [str(k) for k in node]
                if parts[:depth] == ["israel", "threat"]:
                    allowed += list(data.get("countries") or {})
                elif depth and parts[depth - 1] == "stances":
                    allowed += list(data.get("tasks") or {})
                if fields is None and part not in allowed:  # a mapping of names
                    close = difflib.get_close_matches(part, allowed, n=1, cutoff=0.6)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise ScenarioError([(file, where, f"--set {key}: no entry '{part}' "
                                          f"here{hint}")])
                if not last:
                    node[part] = {}
            if last:
                node[part] = value
            else:
                node = node[part]
    return data


def load_scenario(path: str | Path, overrides=(), *, within: tuple[Path, ...] = ()
                  ) -> LoadedScenario:
    """Read, merge (`extends`), apply `--set` overrides, validate and prepare a scenario file.

    `within` confines reading to these folders (see `read_raw`); empty means anywhere."""
    data, texts = read_raw(path, within=tuple(within))
    overrides = list(overrides)
    if overrides:
        data = apply_overrides(data, overrides, str(path))
    try:
        loaded = from_mapping(data, str(path), texts)
    except ScenarioError as e:
        keys = [parse_override(o)[0] for o in overrides]
        e.problems = [(f, k, m + (" (value given by --set)" if any(
            k == o or k.startswith(o + ".") or k.startswith(o + "[") for o in keys) else ""))
            for f, k, m in e.problems]
        raise ScenarioError(e.problems) from None
    loaded.overrides = overrides
    return loaded


__all__ = [
    "ScenarioError", "LoadedScenario", "load_scenario", "from_mapping", "deep_merge",
    "get_path", "set_path", "apply_overrides", "parse_override",
]
