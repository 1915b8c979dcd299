"""Outcome expressions such as ``formed and status.Pakistan == "deployed"``: a small grammar of
our own, parsed here and evaluated over the runs table with vectorised pandas/numpy operations.

The user's text is never handed to Python: no `eval`, no `DataFrame.query`/`eval`, no attribute
lookup. A name can only ever mean a column of the table (an exact string match), and every
operator is one of a fixed table below. Anything else is refused with a message that says where
(the column of the expression) and what is allowed.

    outcome     := or
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | comparison
    comparison  := term [OP term | "in" list | "not" "in" list]
    term        := column | number | string | true | false | "(" outcome ")"
    list        := "[" [literal ("," literal)* [","]] "]"
    OP          := == | != | < | <= | > | >=

A term standing alone must be true/false (a true/false column such as ``formed``).
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: longest accepted expression, in characters (a real outcome is a line or two)
MAX_LENGTH = 2000
#: deepest accepted nesting of parentheses and `not`
MAX_DEPTH = 30
#: longest accepted number literal, in characters
MAX_NUMBER = 30

#: kinds of values a column or literal holds
BOOL, NUMBER, TEXT = "true/false", "number", "text"

ALLOWED = (
    "An outcome is a true/false expression over the columns of runs.parquet. Allowed: column "
    "names as written (formed, status.Pakistan, param.israel.threat.Pakistan; a name with "
    "spaces in backquotes: `status.Saudi Arabia`), numbers (12, -0.5, 1e3), text in quotes "
    "(\"deployed\" or 'deployed'), true, false, comparisons == != < <= > >=, "
    "in [...] and not in [...], and, or, not, and parentheses. Example: "
    "formed and status.Pakistan == \"deployed\""
)

_KEYWORDS = {"and", "or", "not", "in", "true", "false", "True", "False"}
_COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                ">": operator.gt, ">=": operator.ge}
_ORDERING = {"<", "<=", ">", ">="}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*", re.ASCII)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# characters that are not part of the grammar, with what to write instead
_HINTS = {
    "@": "there are no variables: a name is a column of runs.parquet",
    "&": "write 'and'", "|": "write 'or'", "~": "write 'not'", "!": "write 'not' or '!='",
    "=": "write '==' to compare",
    "+": "arithmetic is not allowed", "*": "arithmetic is not allowed",
    "/": "arithmetic is not allowed", "%": "arithmetic is not allowed",
    "^": "arithmetic is not allowed",
    "-": "arithmetic is not allowed (a minus sign may only start a number)",
    ":": "slices and lambdas are not allowed", ";": "one expression only",
    "{": "braces are not allowed", "}": "braces are not allowed",
    "\\": "backslashes are not allowed outside quotes", "#": "comments are not allowed",
    "$": "not part of the grammar", "?": "not part of the grammar",
}


class ExpressionError(ValueError):
    """An expression that is refused; `position` is the 0-based character where the problem is
    (None when it concerns the whole expression)."""

    def __init__(self, text: str, position: int | None, problem: str, hint: str = ALLOWED):
        self.text, self.position, self.problem, self.hint = text, position, problem, hint
        super().__init__(self.format())

    def format(self) -> str:
        where = f"column {self.position + 1}: " if self.position is not None else ""
        lines = [where + self.problem]
        if self.position is not None:
            lines += _pointer(self.text, self.position)
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _pointer(text: str, pos: int, width: int = 60) -> list[str]:
    """The part of `text` around `pos`, and a caret under `pos` (never the whole of a long
    text, and with unprintable characters shown as escapes, not sent to the terminal)."""
    start = max(0, pos - width // 2)
    stop = min(len(text), start + width)
    shown, caret = "", 0
    for i in range(start, stop):
        ch = text[i]
        piece = ch if ch.isprintable() else f"\\u{ord(ch):04x}"
        if i == pos:
            caret = len(shown)
        shown += piece
    if pos >= stop:
        caret = len(shown)
    prefix = "..." if start > 0 else ""
    suffix = "..." if stop < len(text) else ""
    return ["    " + prefix + shown + suffix, "    " + " " * (len(prefix) + caret) + "^"]


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "text", "op", "punct", "keyword", "end"
    value: object
    pos: int


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise ExpressionError("", None, "the outcome must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError("", None, f"the expression is {len(text):,} characters long; the "
                              f"limit is {MAX_LENGTH:,}")
    if not text.strip():
        raise ExpressionError(text, None, "the expression is empty")
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in "()[],":
            tokens.append(Token("punct", ch, i))
            i += 1
        elif text.startswith(("==", "!=", "<=", ">="), i):
            tokens.append(Token("op", text[i:i + 2], i))
            i += 2
        elif ch in "<>":
            tokens.append(Token("op", ch, i))
            i += 1
        elif ch in "\"'":
            end = text.find(ch, i + 1)
            if end < 0:
                raise ExpressionError(text, i, "this quote is never closed")
            value = text[i + 1:end]
            _refuse_control(text, i + 1, value)
            tokens.append(Token("text", value, i))
            i = end + 1
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ExpressionError(text, i, "this backquote is never closed")
            value = text[i + 1:end]
            if not value.strip():
                raise ExpressionError(text, i, "empty column name in backquotes")
            _refuse_control(text, i + 1, value)
            tokens.append(Token("name", value, i))
            i = end + 1
        elif _starts_number(text, i):
            i = _number(text, i, tokens)
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _NAME.match(text, i)
            end = m.end()
            if end < n and text[end] == ".":
                raise ExpressionError(text, end, "a name cannot end with '.'")
            word = m.group()
            tokens.append(Token("keyword" if word in _KEYWORDS else "name", word, i))
            i = end
        elif not ch.isascii():
            raise ExpressionError(text, i, f"character '{_show(ch)}' (U+{ord(ch):04X}) is not "
                                  "allowed outside quotes: names and operators are plain "
                                  "ASCII (look-alike letters are refused)")
        elif not ch.isprintable():
            raise ExpressionError(text, i, f"control character U+{ord(ch):04X} is not allowed")
        else:
            hint = _HINTS.get(ch, "not part of the grammar")
            raise ExpressionError(text, i, f"'{ch}' is not allowed: {hint}")
    tokens.append(Token("end", None, n))
    return tokens


def _starts_number(text: str, i: int) -> bool:
    """A digit, '.5', or a minus sign directly followed by one of these."""
    if text[i] == "-":
        i += 1
    if i < len(text) and text[i] == ".":
        i += 1
    return i < len(text) and text[i] in "0123456789"


def _number(text: str, i: int, tokens: list[Token]) -> int:
    sign = 1.0
    start = i
    if text[i] == "-":
        sign, i = -1.0, i + 1
    m = _NUMBER.match(text, i)
    end = m.end()
    if text[end:end + 1] in ("-", "+") and text[end + 1:end + 2].isdigit():
        raise ExpressionError(text, start, "malformed number (arithmetic is not allowed; a "
                              "date is written in quotes: '2026-01-01')")
    if end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] in "_.")):
        raise ExpressionError(text, start, "malformed number (write plain decimal numbers "
                              "such as 12, 0.5 or 1e3)")
    if end - start > MAX_NUMBER:
        raise ExpressionError(text, start, f"number longer than {MAX_NUMBER} characters")
    value = sign * float(m.group())
    if not math.isfinite(value):
        raise ExpressionError(text, start, "number too large (it must be finite)")
    tokens.append(Token("number", value, start))
    return end


def _refuse_control(text: str, offset: int, value: str) -> None:
    for k, c in enumerate(value):
        if not c.isprintable() and c != " ":
            raise ExpressionError(text, offset + k, f"control character U+{ord(c):04X} is "
                                  "not allowed")


def _show(ch: str) -> str:
    return ch if ch.isprintable() else f"\\u{ord(ch):04x}"


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Column:
    name: str
    pos: int


@dataclass(frozen=True)
class Literal:
    value: object  # bool, float or str
    pos: int

    @property
    def kind(self) -> str:
        v = self.value
        return BOOL if isinstance(v, bool) else NUMBER if isinstance(v, float) else TEXT


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object
    pos: int


@dataclass(frozen=True)
class Member:
    operand: object
    values: tuple[Literal, ...]
    negate: bool
    pos: int


@dataclass(frozen=True)
class Not:
    operand: object
    pos: int


@dataclass(frozen=True)
class Junction:
    op: str  # "and" or "or"
    operands: tuple
    pos: int


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at(self, kind: str, value=None, ahead: int = 0) -> bool:
        t = self.peek(ahead)
        return t.kind == kind and (value is None or t.value == value)

    def fail(self, t: Token, problem: str):
        raise ExpressionError(self.text, t.pos, problem)

    def deeper(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(t, f"nested more than {MAX_DEPTH} deep")

    def parse(self):
        node = self.junction("or")
        t = self.peek()
        if t.kind != "end":
            if t.kind == "punct" and t.value == ")":
                self.fail(t, "this ')' closes nothing")
            if t.kind == "name" and str(t.value).lower() in _KEYWORDS:
                self.fail(t, f"write '{str(t.value).lower()}' in lower case")
            self.fail(t, f"expected 'and', 'or' or the end of the expression, got {_desc(t)}")
        return node

    def junction(self, op: str):
        inner = (lambda: self.junction("and")) if op == "or" else self.negation
        first = self.peek()
        operands = [inner()]
        while self.at("keyword", op):
            self.take()
            operands.append(inner())
        return operands[0] if len(operands) == 1 else Junction(op, tuple(operands), first.pos)

    def negation(self):
        if self.at("keyword", "not") and not self.at("keyword", "in", 1):
            t = self.take()
            self.deeper(t)
            node = Not(self.negation(), t.pos)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self):
        left = self.term()
        t = self.peek()
        if t.kind == "op":
            self.take()
            right = self.term()
            node = Compare(t.value, left, right, t.pos)
            if self.at("op"):
                self.fail(self.peek(), "compare one pair at a time and join them with 'and'")
            return node
        if t.kind == "keyword" and t.value == "in":
            self.take()
            return Member(left, self.literal_list(), False, t.pos)
        if t.kind == "keyword" and t.value == "not" and self.at("keyword", "in", 1):
            self.take()
            self.take()
            return Member(left, self.literal_list(), True, t.pos)
        return left

    def term(self):
        t = self.peek()
        if t.kind == "punct" and t.value == "(":
            self.take()
            self.deeper(t)
            node = self.junction("or")
            self.depth -= 1
            close = self.peek()
            if not (close.kind == "punct" and close.value == ")"):
                self.fail(close, f"expected ')' to close the '(' at column {t.pos + 1}, got "
                          f"{_desc(close)}")
            self.take()
            return node
        if t.kind == "name":
            self.take()
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.value == "(":
                self.fail(nxt, "function calls are not allowed")
            if nxt.kind == "punct" and nxt.value == "[":
                self.fail(nxt, "subscripts are not allowed (for a list of values write "
                          "'in [...]')")
            return Column(t.value, t.pos)
        if t.kind in ("number", "text") or (t.kind == "keyword" and t.value in
                                            ("true", "false", "True", "False")):
            return self.literal()
        if t.kind == "end":
            self.fail(t, "the expression ends too early")
        self.fail(t, f"expected a column, a value or '(', got {_desc(t)}")

    def literal(self) -> Literal:
        t = self.take()
        if t.kind == "keyword":
            return Literal(t.value in ("true", "True"), t.pos)
        if t.kind in ("number", "text"):
            return Literal(t.value, t.pos)
        self.fail(t, f"expected a value (a number, text in quotes, true or false), got "
                  f"{_desc(t)}")

    def literal_list(self) -> tuple[Literal, ...]:
        t = self.peek()
        if not (t.kind == "punct" and t.value == "["):
            self.fail(t, f"expected '[' to start a list of values, got {_desc(t)}")
        self.take()
        values = []
        while not self.at("punct", "]"):
            values.append(self.literal())
            if self.at("punct", ","):
                self.take()
            elif not self.at("punct", "]"):
                self.fail(self.peek(), f"expected ',' or ']' in the list, got "
                          f"{_desc(self.peek())}")
        self.take()
        if not values:
            self.fail(t, "the list is empty")
        kinds = {v.kind for v in values}
        if len(kinds) > 1:
            self.fail(t, "a list holds values of one kind (all numbers, all text or all "
                      "true/false)")
        return tuple(values)


def _desc(t: Token) -> str:
    if t.kind == "end":
        return "the end of the expression"
    if t.kind == "text":
        return "text in quotes"
    return f"'{t.value}'" if t.kind != "number" else f"the number {t.value:g}"


def parse(text: str):
    """The syntax tree of an outcome expression (ExpressionError if it is not one)."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------- checking


def kinds_of(frame: pd.DataFrame) -> dict[str, str]:
    """The kind of each column of a table: true/false, number or text."""
    out = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            out[str(name)] = BOOL
        elif pd.api.types.is_numeric_dtype(dtype):
            out[str(name)] = NUMBER
        else:
            out[str(name)] = TEXT
    return out


def columns_used(tree) -> list[str]:
    """The column names an expression refers to, in order of appearance, each once."""
    seen: list[str] = []

    def walk(node):
        if isinstance(node, Column):
            if node.name not in seen:
                seen.append(node.name)
        elif isinstance(node, Compare):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Member | Not):
            walk(node.operand)
        elif isinstance(node, Junction):
            for o in node.operands:
                walk(o)

    walk(tree)
    return seen


class _Checker:
    def __init__(self, text: str, kinds: Mapping[str, str],
                 values: Mapping[str, Collection[str]]):
        self.text, self.kinds, self.values = text, kinds, values

    def fail(self, pos: int, problem: str, hint: str = ALLOWED):
        raise ExpressionError(self.text, pos, problem, hint)

    def kind(self, node) -> str:
        if isinstance(node, Column):
            if node.name not in self.kinds:
                self.unknown(node)
            return self.kinds[node.name]
        if isinstance(node, Literal):
            return node.kind
        if isinstance(node, Compare):
            left, right = self.kind(node.left), self.kind(node.right)
            if left != right:
                self.fail(node.pos, f"'{node.op}' compares {_a(left)} with {_a(right)}")
            if left == BOOL and node.op in _ORDERING:
                self.fail(node.pos, f"'{node.op}' does not apply to true/false values; use "
                          "== or !=")
            for col, lit in ((node.left, node.right), (node.right, node.left)):
                if isinstance(col, Column) and isinstance(lit, Literal) and \
                        node.op in ("==", "!="):
                    self.known_value(col, lit)
            return BOOL
        if isinstance(node, Member):
            kind = self.kind(node.operand)
            if node.values[0].kind != kind:
                self.fail(node.pos, f"'in' tests {_a(kind)} against a list of "
                          f"{node.values[0].kind} values")
            if isinstance(node.operand, Column):
                for lit in node.values:
                    self.known_value(node.operand, lit)
            return BOOL
        if isinstance(node, Not | Junction):
            word = "not" if isinstance(node, Not) else node.op
            for operand in (node.operands if isinstance(node, Junction) else (node.operand,)):
                k = self.kind(operand)
                if k != BOOL:
                    self.fail(_pos(operand), f"'{word}' needs true/false on each side, but "
                              f"this is {_a(k)}", _boolean_hint(operand, k))
            return BOOL
        raise TypeError(f"not a node: {type(node).__name__}")  # pragma: no cover

    def unknown(self, node: Column):
        names = sorted(self.kinds)
        close = difflib.get_close_matches(node.name, names, n=5, cutoff=0.6)
        folded = [c for c in names if c.lower() == node.name.lower()]
        close = list(dict.fromkeys([*folded, *close]))
        hint = f"did you mean {', '.join(close)}? " if close else ""
        if node.name.lower() in _KEYWORDS:
            hint = f"write '{node.name.lower()}' in lower case. "
        self.fail(node.pos, f"unknown column '{_clip(node.name)}'",
                  hint + "Columns: " + describe_columns(names))

    def known_value(self, col: Column, lit: Literal) -> None:
        allowed = self.values.get(col.name)
        if not allowed or lit.kind != TEXT or lit.value in allowed:
            return
        close = difflib.get_close_matches(str(lit.value), list(allowed), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        self.fail(lit.pos, f"{col.name} is never '{_clip(str(lit.value))}'{hint}",
                  f"Values of {col.name}: {', '.join(allowed)}")


def _pos(node) -> int:
    return node.pos


def _a(kind: str) -> str:
    return {BOOL: "a true/false value", NUMBER: "a number", TEXT: "text"}[kind]


def _boolean_hint(node, kind: str | None = None) -> str:
    if isinstance(node, Column) and kind in (NUMBER, TEXT):
        example = f"{node.name} > 0" if kind == NUMBER else f"{node.name} == \"...\""
        return f"Compare it, e.g. {example}. " + ALLOWED
    return ALLOWED


def _clip(s: str, n: int = 60) -> str:
    s = "".join(c if c.isprintable() else "?" for c in s)
    return s if len(s) <= n else s[:n] + "..."


def describe_columns(names: Iterable[str], limit: int = 40) -> str:
    """Column names grouped by prefix, short enough for a message: `status.<9 countries>`."""
    names = list(names)
    plain = [c for c in names if "." not in c]
    groups: dict[str, list[str]] = {}
    for c in names:
        if "." in c:
            head, tail = c.split(".", 1)
            groups.setdefault(head, []).append(tail)
    parts = plain[:limit] + (["..."] if len(plain) > limit else [])
    for head, tails in groups.items():
        if head == "param":
            parts.append("param.<parameter path> (" + ", ".join(
                f"param.{t}" for t in tails[:limit]) + (", ..." if len(tails) > limit else "")
                + ")")
        else:
            parts.append(f"{head}.<country> ({', '.join(tails[:limit])})")
    return "; ".join(parts)


def check(text: str, kinds: Mapping[str, str],
          values: Mapping[str, Collection[str]] | None = None):
    """Parse `text` and check it against the columns (name -> kind); return the tree.

    `values` gives, for text columns that hold a fixed set of words (statuses, reasons), the
    words they may hold: comparing with any other word is refused (a typo would match nothing).
    """
    tree = parse(text)
    kind = _Checker(text, kinds, values or {}).kind(tree)
    if kind != BOOL:
        raise ExpressionError(text, _pos(tree), f"the outcome must be true or false for each "
                              f"run, but this is {_a(kind)}", _boolean_hint(tree, kind))
    return tree


# --------------------------------------------------------------------------- evaluation


def mask(frame: pd.DataFrame, text: str,
         values: Mapping[str, Collection[str]] | None = None) -> np.ndarray:
    """The rows of `frame` where the expression holds, as a boolean array."""
    tree = check(text, kinds_of(frame), values)
    out = _Evaluator(frame).value(tree)
    return np.broadcast_to(np.asarray(out, dtype=bool), (len(frame),)).copy()


class _Evaluator:
    """Evaluates a checked tree: every value is a numpy array over the rows or a scalar."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.kinds = kinds_of(frame)

    def column(self, name: str):
        s = self.frame[name]  # `name` was checked to be one of the frame's columns
        kind = self.kinds[name]
        if kind == BOOL:
            return s.fillna(False).to_numpy(dtype=bool)
        if kind == NUMBER:
            return s.to_numpy(dtype=float, na_value=np.nan)
        return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)

    def value(self, node):
        if isinstance(node, Column):
            return self.column(node.name)
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Not):
            return np.logical_not(self.value(node.operand))
        if isinstance(node, Junction):
            combine = np.logical_and if node.op == "and" else np.logical_or
            out = self.value(node.operands[0])
            for o in node.operands[1:]:
                out = combine(out, self.value(o))
            return out
        if isinstance(node, Member):
            left = self.value(node.operand)
            wanted = [v.value for v in node.values]
            if np.isscalar(left) or isinstance(left, str | bool | float):
                found = left in wanted
            else:
                found = pd.Series(left).isin(wanted).to_numpy(dtype=bool)
            return np.logical_not(found) if node.negate else found
        if isinstance(node, Compare):
            return self.compare(node)
        raise TypeError(f"not a node: {type(node).__name__}")  # pragma: no cover

    def compare(self, node: Compare):
        left, right = self.value(node.left), self.value(node.right)
        fn = _COMPARISONS[node.op]
        kind = self.kinds[node.left.name] if isinstance(node.left, Column) else \
            self.kinds[node.right.name] if isinstance(node.right, Column) else None
        if kind is None:  # two literals
            return bool(fn(left, right))
        if kind != TEXT:
            with np.errstate(invalid="ignore"):
                return np.asarray(fn(left, right), dtype=bool)
        # text: a missing value (None) equals nothing and is neither before nor after anything;
        # != is the negation of ==
        if node.op == "!=":
            return np.logical_not(self.compare(Compare("==", node.left, node.right, node.pos)))
        n = len(self.frame)
        lv = left if isinstance(left, np.ndarray) else np.full(n, left, dtype=object)
        rv = right if isinstance(right, np.ndarray) else np.full(n, right, dtype=object)
        present = ~(pd.isna(lv) | pd.isna(rv))
        out = np.zeros(n, dtype=bool)
        if present.any():
            out[present] = np.asarray(fn(lv[present], rv[present]), dtype=bool)
        return out


# --------------------------------------------------------------------------- the runs table

_KIND_OF_FIELD = {"bool": BOOL, "int": NUMBER, "float": NUMBER, "str": TEXT}


def runs_columns(loaded) -> dict[str, str]:
    """The columns of a scenario's runs.parquet and their kinds, known before any run: the run
    index and seed, each uncertain parameter (`param.<path>`) and the model's declared outcome
    record. An outcome can so be checked before a long experiment starts."""
    from ..model import outcome_fields

    cols = {"run": NUMBER, "seed": NUMBER}
    cols.update({f"param.{path}": NUMBER for path, _ in loaded.uncertain})
    for name, typ in outcome_fields(loaded):
        cols[name] = _KIND_OF_FIELD[typ.rstrip("?")]
    return cols


def known_values(columns: Iterable[str], frame: pd.DataFrame | None = None
                 ) -> dict[str, list[str]]:
    """The words each status column (`status.<country>`) and `reason` may hold: the
    vocabulary's, plus any found in `frame`."""
    from ..vocabulary import REASONS
    from ..vocabulary import STATUSES as FINAL_STATUSES

    out = {}
    for c in columns:
        words = list(FINAL_STATUSES) if c.startswith("status.") else \
            list(REASONS) if c == "reason" else None
        if words is None:
            continue
        if frame is not None and c in frame.columns:
            seen = frame[c].dropna().astype(str).unique().tolist()
            words += [w for w in seen if w not in words]
        out[c] = words
    return out


def no_match(frame: pd.DataFrame, text: str, holds: np.ndarray) -> str:
    """Why an outcome that holds in no run (or in every run) cannot be studied: how often it
    holds, the values the status columns it uses actually took, and the column names."""
    n, k = len(holds), int(np.sum(holds))
    lines = [f"the outcome holds in {k:,} of {n:,} runs: nothing to discover"]
    for c in columns_used(parse(text)):
        if c in frame.columns and (c.startswith("status.") or c == "reason"):
            counts = frame[c].fillna("(none)").astype(str).value_counts()
            lines.append(f"{c} took: " + ", ".join(f"{v} ({m:,})" for v, m in counts.items()))
            allowed = known_values([c])[c]
            lines.append(f"valid values of {c}: " + ", ".join(allowed))
    from ..vocabulary import REASONS
    from ..vocabulary import STATUSES as FINAL_STATUSES

    lines.append("Statuses (status.<country>): " + ", ".join(FINAL_STATUSES))
    lines.append("Reasons (reason): " + ", ".join(REASONS))
    lines.append("Columns: " + describe_columns(frame.columns.astype(str)))
    return "\n".join(lines)
