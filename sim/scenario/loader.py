"""Loading scenario files: YAML, `extends`, validation, clear errors, and per-run sampling.

`load_scenario(path)` returns a `LoadedScenario`: the validated scenario, its parameters as a
plain tree (dotted paths such as ``countries.Pakistan.domestic.opposition_strength``), the
uncertain parameters among them, and `sample(rng)` which draws one run's concrete parameters.
Every problem is raised as a `ScenarioError` naming the file, the key path and the problem.
"""

from __future__ import annotations

import copy
import difflib
import errno
import hashlib
import os
import re
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import AfterValidator, BaseModel, ValidationError

from .. import rng
from .errors import ScenarioError
from .quantity import (
    FORM_KEYS,
    FlagForm,
    InRange,
    _Form,
    describe_value,
    fixed_value,
    is_distribution,
)
from .schema import CrossReferenceError, Event, Scenario
from .tree import get_path, set_path

# --------------------------------------------------------------------------- limits

#: bytes of one scenario file (the baseline, the largest shipped file, has about 20 KB)
MAX_FILE_BYTES = 1 << 20
#: bytes of a file and all its `extends` ancestors together: with MAX_NODES, this bounds the
#: time a hostile chain can take (0.3-0.5 s for 50,000 values, measured; the libyaml events
#: are read in milliseconds per MiB, the Python composer builds at most MAX_NODES nodes)
MAX_CHAIN_BYTES = 2 << 20
#: files in a chain of `extends` (the file itself included)
MAX_EXTENDS = 32
#: YAML values (mappings, lists, scalars; an alias counted at every use) of a file and its
#: ancestors together; the baseline holds about 1,300
MAX_NODES = 50_000
#: nesting of mappings and lists (a scenario nests about 6 deep)
MAX_DEPTH = 64


# --------------------------------------------------------------------------- YAML reading


class _YAMLProblem(yaml.MarkedYAMLError):
    """A problem found while reading YAML, with the key path where it was found."""

    def __init__(self, problem: str, mark, path: str = ""):
        super().__init__(None, None, problem, mark)
        self.key_path = path


def _refuse_tag(loader, node):
    raise _YAMLProblem(f"the tag '{node.tag}' is not supported in a scenario file",
                       node.start_mark, loader.path_of(node))


_INT_12 = re.compile(r"^[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_12 = re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                          |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X)


#: where the events come from: libyaml's scanner and parser (C, iterative, no recursion) where
#: PyYAML was built with it, reading a scenario in a tenth of the time; else PyYAML's own. The
#: two differ on a few corners of the syntax (libyaml accepts a tab after a colon), never on
#: the value of what both read (tests/test_input_hardening.py compares them)
_C_EVENTS: tuple = (yaml.cyaml.CParser,) if yaml.__with_libyaml__ else ()
_PY_EVENTS: tuple = (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser)


class _Hardened(yaml.composer.Composer):
    """PyYAML's safe loader, hardened for hostile files. The events are read by libyaml where
    PyYAML has it (else by PyYAML's pure Python reader: `_loader`), and PyYAML's Python
    composer builds the nodes from them, so there is no C recursion: the depth is checked
    before each level is built.

    - Caps: nesting depth, and the number of values with every alias expanded ("billion
      laughs" fails at once, without building anything big); an alias inside the very
      mapping or list it names (an endless structure) is refused.
    - Numbers as in YAML 1.2: `1e5` is a number, `012` is twelve (not octal ten) and `1:30` is
      text (not ninety), so no number is silently misread; `.nan` and `.inf` are read as such
      and refused by the schema with a clear message.
    - Mapping keys are always the text written (`1:` and `no:` are '1' and 'no', not a number
      or false); a duplicate key, the merge key `<<` and unusual tags (`!!set`, `!!binary`,
      ...) are refused.
    """

    def __init__(self, stream, max_nodes: int = MAX_NODES):
        if isinstance(self, yaml.parser.Parser):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
        else:
            yaml.cyaml.CParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.max_nodes = max_nodes
        self.spent = 0
        self._keys: list = []  # the key or index of each node being composed, outermost first
        self._sizes: dict = {}  # node -> its number of values, aliases expanded
        self._where: dict = {}  # node -> (parent node, key node or index), for key paths

    # ---- composing: sizes, depth, endless aliases

    def compose_node(self, parent, index):
        self._keys.append(index)
        try:
            return self._compose(parent, index)
        finally:
            self._keys.pop()

    def _compose(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node not in self._sizes:  # still being composed: the alias lies inside it
                raise _YAMLProblem(f"the alias *{event.anchor} lies inside the mapping or list "
                                   "it names, which would make it endless", event.start_mark,
                                   self._composing())
            self._spend(self._sizes[node], event)
            return node
        if len(self._keys) > MAX_DEPTH and isinstance(
                event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            raise _YAMLProblem(f"mappings and lists nested more than {MAX_DEPTH} deep",
                               event.start_mark, self._composing())
        before = self.spent
        node = super().compose_node(parent, index)
        self._where.setdefault(node, (parent, index))
        self._spend(1, event)
        self._sizes[node] = self.spent - before
        return node

    def _spend(self, n: int, event) -> None:
        self.spent += n
        if self.spent > self.max_nodes:
            raise _YAMLProblem(
                f"more than {MAX_NODES:,} values, counting the files it extends and every use "
                "of an alias (a scenario holds a few thousand)", event.start_mark,
                self._composing())

    def _composing(self) -> str:
        return _short_path([_key_of(k) for k in self._keys if k is not None])

    def path_of(self, node) -> str:
        parts: list = []
        parent, index = self._where.get(node, (None, None))
        while parent is not None:
            if index is not None:
                parts.append(_key_of(index))
            parent, index = self._where.get(parent, (None, None))
        return _short_path(parts[::-1])

    # ---- constructing

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, ArithmeticError) as e:  # e.g. a date 2026-13-45
            raise _YAMLProblem(f"cannot read the value '{str(node.value)[:40]}': {e}",
                               node.start_mark, self.path_of(node)) from None

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise _YAMLProblem("expected a mapping", node.start_mark, self.path_of(node))
        out: dict = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _YAMLProblem(
                    "the YAML merge key '<<' is not supported (it merges shallowly, unlike "
                    "'extends'): write the keys out, or put shared settings in a parent "
                    "scenario and use 'extends'", key_node.start_mark, self.path_of(node))
            if not isinstance(key_node, yaml.ScalarNode):
                raise _YAMLProblem("a key must be a name, not a mapping or a list",
                                   key_node.start_mark, self.path_of(node))
            key = key_node.value
            if key in first:
                raise _YAMLProblem(f"duplicate key '{key}' (first at line {first[key] + 1})",
                                   key_node.start_mark, self.path_of(node))
            first[key] = key_node.start_mark.line
            out[key] = self.construct_object(value_node, deep=deep)
        return out

    def construct_yaml_int(self, node):
        text = str(self.construct_scalar(node))
        body = text.lstrip("+-")
        base = 16 if body[:2] in ("0x", "0X") else 8 if body[:2] in ("0o", "0O") else 10
        return int(text if base == 10 else text[: len(text) - len(body)] + body[2:], base)


def _short_path(parts: list) -> str:
    """A key path for a message; a hostile depth is elided in the middle."""
    if len(parts) > 12:
        return f"{_dotted(parts[:6])}...{_dotted(parts[-3:])}"
    return _dotted(parts)


def _key_of(index):
    """A key path part from PyYAML's composer: a key node (its text) or a list index."""
    if isinstance(index, yaml.Node):
        return str(index.value) if isinstance(index, yaml.ScalarNode) else "?"
    return index


def _resolvers_12(resolvers: dict) -> dict:
    """YAML 1.1's implicit types without its numbers (octal 012, sexagesimal 1:30, `=`),
    plus YAML 1.2's."""
    dropped = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:value"}
    out = {ch: [(t, r) for t, r in rs if t not in dropped] for ch, rs in resolvers.items()}
    for ch in "-+0123456789.":
        out.setdefault(ch, []).extend([("tag:yaml.org,2002:int", _INT_12),
                                       ("tag:yaml.org,2002:float", _FLOAT_12)])
    return out


def _loader(events: tuple) -> type:
    """The hardened loader reading its events with `events` (_C_EVENTS or _PY_EVENTS)."""
    cls = type("_ScenarioLoader", (_Hardened, *events, yaml.constructor.SafeConstructor,
                                   yaml.resolver.Resolver), {})
    cls.yaml_implicit_resolvers = _resolvers_12(yaml.SafeLoader.yaml_implicit_resolvers)
    cls.add_constructor("tag:yaml.org,2002:int", cls.construct_yaml_int)
    for tag_name in ("binary", "set", "omap", "pairs", "merge", "value"):
        cls.add_constructor(f"tag:yaml.org,2002:{tag_name}", _refuse_tag)
    cls.add_constructor(None, _refuse_tag)
    return cls


_ScenarioLoader = _loader(_C_EVENTS or _PY_EVENTS)


def load_yaml(text: str, max_nodes: int = MAX_NODES,
              loader_class: type | None = None) -> tuple[Any, int]:
    """Read one YAML document safely; return the data and the number of values it holds.

    Raises `yaml.YAMLError` (with `key_path` where known) for anything that cannot be read.
    `loader_class`: another `_loader` (the tests compare the two event readers).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate (from --set, say): libyaml takes UTF-8
        raise yaml.reader.ReaderError("<unicode string>", e.start, ord(text[e.start]),
                                      "unicode", "special characters are not allowed") from None
    loader = (loader_class or _ScenarioLoader)(text, max_nodes)
    try:
        return loader.get_single_data(), loader.spent
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, ArithmeticError, RecursionError) as e:
        raise _YAMLProblem(f"cannot be read: {e}", None) from None
    finally:
        loader.dispose()


def _yaml_problem(e: yaml.YAMLError) -> tuple[str, str]:
    """(key path, message) for a YAML error."""
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(e, "problem", None) or str(e)
    kind = "" if isinstance(e, _YAMLProblem) else "malformed YAML: "
    return getattr(e, "key_path", ""), f"{kind}{where}{problem}"


def _read_yaml(shown: str, text: str, budget: list[int]) -> dict:
    """Parse a scenario file's text; `budget` is the list [values left] of its chain."""
    if not text.strip():
        raise ScenarioError([(shown, "", "the file is empty")])
    try:
        data, spent = load_yaml(text, budget[0])
    except yaml.YAMLError as e:
        raise ScenarioError([(shown, *_yaml_problem(e))]) from None
    budget[0] -= spent
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


class _FileProblem(Exception):
    """A file that cannot be read as a scenario file (the message completes its name)."""


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _within(real: Path, roots) -> bool:
    return any(real == r or real.is_relative_to(r) for r in roots)


def _read_file(path: Path, roots=None) -> tuple[Path, str]:
    """Read one scenario file; return its resolved path and text.

    Only a regular file under MAX_FILE_BYTES is read: the type and size are checked before
    opening and again on the open file (which is opened without blocking, so a FIFO swapped in
    between cannot hang the reader); a device is never opened, a FIFO never read.
    """
    real = Path(os.path.realpath(path))
    # confinement first, so that nothing tells what exists outside the folders
    if roots is not None and not _within(real, roots):
        raise _FileProblem("is outside the folders scenarios may be read from ("
                           + ", ".join(map(str, roots)) + ")")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _FileProblem("not found") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _FileProblem("is a loop of symbolic links") from None
        raise _FileProblem(f"cannot be read: {e.strerror}") from None
    _check_stat(st)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as e:
        raise _FileProblem(f"cannot be read: {e.strerror}") from None
    try:
        _check_stat(os.fstat(fd))
        chunks, n = [], 0
        while n <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - n)
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
    except OSError as e:
        raise _FileProblem(f"cannot be read: {e.strerror}") from None
    finally:
        os.close(fd)
    if n > MAX_FILE_BYTES:
        raise _FileProblem(f"is larger than {_size(MAX_FILE_BYTES)}, the limit of a scenario "
                           "file")
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _FileProblem(f"is not UTF-8 text (byte {data[e.start]:#04x} at position "
                           f"{e.start})") from None
    return real, text.removeprefix("\ufeff")


def _check_stat(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise _FileProblem("is a folder, not a scenario file")
    if not stat.S_ISREG(st.st_mode):
        raise _FileProblem("is not a regular file (a device, pipe or socket cannot be a "
                           "scenario file)")
    if st.st_size > MAX_FILE_BYTES:
        raise _FileProblem(f"is larger than {_size(MAX_FILE_BYTES)}, the limit of a scenario "
                           f"file ({_size(st.st_size)})")


def read_raw(path: str | Path, *, roots=None) -> tuple[dict, dict[str, str]]:
    """Read a scenario file and its `extends` ancestors; return the merged mapping and texts.

    Limits: regular files only, MAX_FILE_BYTES each and MAX_CHAIN_BYTES together, at most
    MAX_EXTENDS files in a chain, MAX_NODES values and MAX_DEPTH levels. With `roots` (folders),
    every file of the chain must lie inside one of them once symbolic links are resolved.
    """
    if roots is not None:
        roots = [Path(os.path.realpath(r)) for r in roots]
    shown = str(path)
    try:
        real, text = _read_file(Path(path), roots)
    except _FileProblem as e:
        problem = str(e)
        raise ScenarioError([(shown, "", "file not found" if problem == "not found"
                              else problem)]) from None
    budget = [MAX_NODES]
    layers = [(shown, _read_yaml(shown, text, budget), text)]
    chain, total = [real], len(text.encode())
    while (parent := layers[-1][1].get("extends")) is not None:
        child = layers[-1][0]
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError([(child, "extends", "must be the path of another scenario file")])
        parent_path = Path(child).parent / parent
        parent_real = Path(os.path.realpath(parent_path))
        if parent_real in chain:
            cycle = " -> ".join(p.name for p in (*chain, parent_real))
            raise ScenarioError([(child, "extends", f"circular extends: {cycle}")])
        if len(chain) >= MAX_EXTENDS:  # a fault of the whole chain: named from its top
            names = [p.name for p in chain]
            raise ScenarioError([(shown, "extends", f"more than {MAX_EXTENDS} files in a chain "
                                  f"of extends: {' -> '.join(names[:3])} -> ... -> "
                                  f"{' -> '.join(names[-2:])} -> {parent_real.name}")])
        try:
            parent_real, text = _read_file(parent_path, roots)
        except _FileProblem as e:
            problem = str(e)
            if problem == "not found":
                problem = f"not found (looked for {parent_real})"
            raise ScenarioError([(child, "extends", f"parent scenario '{parent}' {problem}")]) \
                from None
        total += len(text.encode())
        if total > MAX_CHAIN_BYTES:
            raise ScenarioError([(shown, "extends", f"the files of this chain of extends hold "
                                  f"more than {_size(MAX_CHAIN_BYTES)} together")])
        chain.append(parent_real)
        layers.append((str(parent_real), _read_yaml(str(parent_real), text, budget), text))
    merged: dict = {}
    for _, data, _ in reversed(layers):
        merged = deep_merge(merged, {k: v for k, v in data.items() if k != "extends"})
    if "extends" in layers[0][1]:
        merged["extends"] = layers[0][1]["extends"]
    return merged, {name: text for name, _, text in reversed(layers)}


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


def _in_data(loc: tuple, data, missing: bool) -> tuple:
    """The parts of a pydantic error location that are keys or indices of the input itself.

    Pydantic puts labels of its own in a location (discriminator tags, union members such as
    'float' or 'function-after[...]') which mean nothing to a reader. Tags are removed by
    following the schema first (a tag such as 'choice' is also a key of the input); following
    the input then drops any other label, whatever the schema's shape. The last part of a
    'missing' error is kept.
    """
    _, loc = _annotation_at(loc)
    out, node = [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (missing and i == len(loc) - 1):
            continue
        out.append(part)
    return tuple(out)


def _explain(err: dict, file: str, data=None) -> list[tuple[str, str, str]]:
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, CrossReferenceError):
        base = tuple(err["loc"])
        return [(file, _dotted(_annotation_at(base + tuple(loc))[1]), msg)
                for loc, msg in ctx_error.problems]
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        keys, _ = _annotation_at(loc[:-1])
        shown_parent = _in_data(loc[:-1], data, False)
        bad = loc[-1]
        msg = f"unknown key '{bad}'"
        close = difflib.get_close_matches(str(bad), keys or [], n=1, cutoff=0.5)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
        elif keys:
            msg += f"; valid keys here: {', '.join(keys)}"
        return [(file, _dotted((*shown_parent, bad)), msg)]
    shown = _in_data(loc, data, kind == "missing")
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
    elif "input" in err and kind != "value_error" and not isinstance(err["input"], dict):
        msg += f" (got {describe_value(err['input'])})"
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
            for p in _explain(err, file, data):
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

    def __getstate__(self):
        """Pickled without the caches built on first use (closures, compiled tables): a worker
        builds its own."""
        state = dict(self.__dict__)
        for cache in ("_groups", "_fast_plan"):
            state.pop(cache, None)
        return state

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
        return self.quantiles(rng.uniforms(seeds, rng.PARAM, self.uncertain_keys))

    def quantiles(self, u: np.ndarray) -> np.ndarray:
        """The uncertain parameters at the uniform numbers `u` (runs x uncertain parameters):
        each distribution's inverse CDF, distributions of one form evaluated together."""
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
        if ev.probability is not None and ev.from_round > last:
            problems.append((file, f"events[{i}].from_round", f"round {ev.from_round} is after "
                             f"the deadline (round {last}): the event can never strike"))
        if ev.probability is not None and ev.until_round is not None and ev.until_round > last:
            problems.append((file, f"events[{i}].until_round", f"round {ev.until_round} is "
                             f"after the deadline (round {last}), the last round an event can "
                             "strike"))
    if problems:
        raise ScenarioError(problems)


def parse_override(text: str, file: str = "--set") -> tuple[str, Any]:
    """`KEY=VALUE` -> (dotted key, value); the value is read as YAML (0.8, true, {uniform: ...})
    with the limits of a scenario file."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([(file, f"--set {text}", "expected KEY=VALUE, e.g. "
                              "countries.Pakistan.domestic.opposition_strength=0.8")])
    if "" in key.split("."):
        raise ScenarioError([(file, f"--set {key}", "a key is a dotted path without empty "
                              "parts, e.g. convener.pressure")])
    try:
        parsed = load_yaml(value)[0] if value.strip() else None
    except yaml.YAMLError as e:
        raise ScenarioError([(file, key, f"--set value {value[:60]!r} cannot be read: "
                              f"{_yaml_problem(e)[1]}")]) from None
    return key, parsed


def apply_overrides(data: dict, overrides, file: str) -> dict:
    """Set dotted keys in a scenario mapping (a copy); names of countries, tasks and other
    keyed entries must exist, so a typo is reported rather than creating a new entry. The
    message names the first part of the key that does not exist."""
    data = copy.deepcopy(data)
    for text in overrides:
        key, value = parse_override(text, file)
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[:depth + 1])
            above = ".".join(parts[:depth])
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
                raise ScenarioError([(file, above, f"--set {key}: this value has no keys below "
                                      "it")])
            if part not in node:
                if _is_quantity_dict(node):
                    raise ScenarioError([(file, where, f"--set {key}: '{part}' is not part of "
                                          f"this value; set it whole, e.g. --set "
                                          f"{above}={{uniform: [0.2, 0.4]}}")])
                fields, _ = _annotation_at(tuple(int(p) if p.isdigit() else p
                                                 for p in parts[:depth]))
                if fields is not None and part not in fields:  # a section with fixed keys
                    close = difflib.get_close_matches(part, fields, n=1, cutoff=0.5)
                    hint = f" (did you mean '{close[0]}'?)" if close else \
                        f"; valid keys here: {', '.join(fields)}"
                    raise ScenarioError([(file, where, f"--set {key}: unknown key "
                                          f"'{part}'{hint}")])
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


def load_scenario(path: str | Path, overrides=(), *, roots=None) -> LoadedScenario:
    """Read, merge (`extends`), apply `--set` overrides, validate and prepare a scenario file.

    With `roots` (folders), the file and every file it extends must lie inside one of them.
    """
    data, texts = read_raw(path, roots=roots)
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
    "get_path", "set_path", "apply_overrides", "parse_override", "load_yaml", "read_raw",
]
