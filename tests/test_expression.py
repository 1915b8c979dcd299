"""Outcome expressions: the grammar gives exactly the masks of a hand computation, and hostile
text is refused (exit 2, a message, no side effect) by `run.py discover`."""

from __future__ import annotations

import operator
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis import expression
from sim.analysis.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, mask
from sim.analysis.studies import check_outcome, outcome_mask
from sim.cli import main
from sim.scenario import ScenarioError

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
NAN = float("nan")

# a table with every kind of column, missing values included
FRAME = pd.DataFrame({
    "formed": [True, True, False, False, True, False],
    "mandate_accepted": [True, False, True, False, False, True],
    "troops.Egypt": [0.0, 1200.0, 500.0, 0.0, 3000.0, 1200.0],
    "param.israel.threat.Pakistan": [0.1, 0.35, NAN, 0.7, 0.5, 0.25],
    "status.Pakistan": ["deployed", "vetoed", "deployed", None, "pending", "blocked_at_home"],
    "status.Saudi Arabia": ["unwilling", "deployed", "deployed", "unwilling", "vetoed", None],
    "date": ["2026-01-15", "2026-03-12", None, None, "2026-02-26", None],
})


def column(name):
    """A column as Python values; missing text is None (pandas may hold it as NaN)."""
    s = FRAME[name]
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return s.tolist()
    return [None if pd.isna(v) else v for v in s]


# ----------------------------------------------------------------------------- the grammar


def test_hand_computed_masks():
    f, egypt, threat = column("formed"), column("troops.Egypt"), \
        column("param.israel.threat.Pakistan")
    pak, saudi, date = column("status.Pakistan"), column("status.Saudi Arabia"), column("date")
    cases = {
        'formed and status.Pakistan == "deployed"': [a and b == "deployed" for a, b in
                                                     zip(f, pak, strict=True)],
        "troops.Egypt >= 1200": [x >= 1200 for x in egypt],
        "param.israel.threat.Pakistan < 0.3": [x < 0.3 for x in threat],  # NaN: False
        "param.israel.threat.Pakistan != 0.1": [not x == 0.1 for x in threat],  # NaN: True
        "status.Pakistan in ['vetoed', 'pending']": [s in ("vetoed", "pending") for s in pak],
        "status.Pakistan not in ['deployed']": [s != "deployed" for s in pak],
        "`status.Saudi Arabia` == 'deployed' or not formed":
            [s == "deployed" or not a for s, a in zip(saudi, f, strict=True)],
        "date >= '2026-02-01'": [d is not None and d >= "2026-02-01" for d in date],
        "date != '2026-01-15'": [d != "2026-01-15" for d in date],
        "not (formed or mandate_accepted)": [not (a or b) for a, b in zip(
            f, column("mandate_accepted"), strict=True)],
        "formed == false": [not a for a in f],
        "-5 < troops.Egypt and troops.Egypt < 1e3": [x < 1000 for x in egypt],
        "troops.Egypt > .5e3 or formed and mandate_accepted":  # and binds tighter than or
            [x > 500 or (a and b) for x, a, b in zip(egypt, f, column("mandate_accepted"),
                                                     strict=True)],
        "not formed and troops.Egypt > 0":  # not binds tighter than and
            [(not a) and x > 0 for a, x in zip(f, egypt, strict=True)],
        "true": [True] * 6,
        "1 > 2": [False] * 6,
        "status.Pakistan == status.Pakistan": [s is not None for s in pak],
    }
    for text, expected in cases.items():
        got = mask(FRAME, text)
        assert got.dtype == bool and got.tolist() == expected, text


# random expressions against a row-by-row evaluation in plain Python


def _py_compare(op, a, b):
    if a is None or b is None:
        return op == "!="
    return {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}[op](a, b)


NUM_COLS = ["troops.Egypt", "param.israel.threat.Pakistan"]
TEXT_COLS = ["status.Pakistan", "status.Saudi Arabia", "date"]
BOOL_COLS = ["formed", "mandate_accepted"]
WORDS = ["deployed", "vetoed", "pending", "unwilling", "blocked_at_home"]


def _name(c):
    return f"`{c}`" if " " in c else c


def _cell(c, i):
    return column(c)[i]


@st.composite
def atoms(draw):
    kind = draw(st.sampled_from(["num", "text", "bool", "in"]))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if kind == "num":
        c = draw(st.sampled_from(NUM_COLS))
        v = draw(st.sampled_from([0, 0.25, 0.35, 500, 1200, -3]))
        flip = draw(st.booleans())
        text = f"{v} {op} {c}" if flip else f"{c} {op} {v}"
        return text, lambda i: (_py_compare(op, v, _cell(c, i)) if flip else
                                _py_compare(op, _cell(c, i), v))
    if kind == "text":
        c = draw(st.sampled_from(TEXT_COLS))
        op = draw(st.sampled_from(["==", "!="]))
        v = draw(st.sampled_from(WORDS if c != "date" else ["2026-01-15", "2026-02-26"]))
        return f"{_name(c)} {op} '{v}'", lambda i: _py_compare(op, _cell(c, i), v)
    if kind == "bool":
        c = draw(st.sampled_from(BOOL_COLS))
        return c, lambda i: bool(_cell(c, i))
    c = draw(st.sampled_from(TEXT_COLS[:2]))
    vs = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    neg = draw(st.booleans())
    text = f"{_name(c)} {'not in' if neg else 'in'} [" + ", ".join(f'"{v}"' for v in vs) + "]"
    return text, lambda i: (_cell(c, i) in vs) != neg


def _combine(children):
    return st.one_of(
        children.map(lambda a: (f"not ({a[0]})", lambda i: not a[1](i))),
        st.tuples(children, children, st.sampled_from(["and", "or"])).map(
            lambda t: (f"({t[0][0]}) {t[2]} ({t[1][0]})",
                       (lambda i: t[0][1](i) and t[1][1](i)) if t[2] == "and" else
                       (lambda i: t[0][1](i) or t[1][1](i)))))


@settings(max_examples=300, deadline=None)
@given(st.recursive(atoms(), _combine, max_leaves=8))
def test_random_expressions_match_a_row_by_row_evaluation(case):
    text, fn = case
    assert mask(FRAME, text).tolist() == [bool(fn(i)) for i in range(len(FRAME))], text


def test_outcome_mask_keeps_its_signature_and_reports_as_scenario_errors():
    assert outcome_mask(FRAME, "formed").tolist() == column("formed")
    with pytest.raises(ScenarioError, match="unknown column 'status.Pakistn'"):
        outcome_mask(FRAME, "status.Pakistn == 'deployed'")
    with pytest.raises(ScenarioError, match="did you mean 'deployed'"):
        outcome_mask(FRAME, "status.Pakistan == 'deploy'")


@pytest.mark.parametrize("text, position, words", [
    ("status.Pakistan == 3", 17, "compares text with a number"),
    ("troops.Egypt", 1, "must be true or false"),
    ("formed and troops.Egypt", 12, "needs true/false"),
    ("formed < true", 8, "does not apply to true/false"),
    ("troops.Egypt in ['a']", 14, "list of text values"),
    ("status.Pakistan in ['deployed', 3]", 20, "values of one kind"),
    ("status.Pakistan in []", 20, "empty"),
    ("formed AND formed", 8, "lower case"),
    ("formed or", 10, "ends too early"),
    ("(formed", 8, "expected ')'"),
    ("formed )", 8, "closes nothing"),
    ("troops.Egypt < 1 < 2", 18, "one pair at a time"),
    ("troops.Egypt > 1.2.3", 16, "malformed number"),
    ("date >= 2026-01-01", 9, "malformed number"),
])
def test_errors_say_where_and_what(text, position, words):
    with pytest.raises(ExpressionError) as e:
        mask(FRAME, text)
    assert e.value.position == position - 1, e.value.format()
    message = e.value.format()
    assert words in message and f"column {position}:" in message
    assert "^" in message  # a caret under the place


def test_unknown_column_lists_the_closest_names():
    with pytest.raises(ExpressionError) as e:
        mask(FRAME, "troops.Egypte > 0 and formed")
    msg = e.value.format()
    assert "unknown column 'troops.Egypte'" in msg and "did you mean troops.Egypt" in msg
    assert "status.<country> (Pakistan, Saudi Arabia)" in msg  # the column names, grouped


def test_the_outcome_is_checked_against_the_scenario_before_any_run(baseline):
    check_outcome(baseline, 'formed and status.Pakistan == "deployed" and '
                  'param.israel.threat.Pakistan < 0.4 and troops.Egypt > 0')
    with pytest.raises(ScenarioError, match="unknown column 'param.israel.threat.Turkey'"):
        check_outcome(baseline, "param.israel.threat.Turkey < 0.4")  # fixed: not a column
    with pytest.raises(ScenarioError, match="reason is never 'vetos'"):
        check_outcome(baseline, "reason == 'vetos'")


def test_no_match_lists_the_values_taken_and_the_columns():
    from sim.analysis.studies import discover

    df = pd.DataFrame({"param.a": np.linspace(0, 1, 50), "status.Iran": ["influencer"] * 50,
                       "formed": [True, False] * 25})
    with pytest.raises(ScenarioError) as e:
        discover(df, "formed and status.Iran == 'deployed'")
    msg = e.value.format()
    assert "holds in 0 of 50 runs" in msg
    assert "status.Iran took: influencer (50)" in msg
    assert "valid values of status.Iran: deployed" in msg and "Columns: formed" in msg


def test_limits_are_enforced_not_just_documented():
    mask(FRAME, "(" * MAX_DEPTH + "formed" + ")" * MAX_DEPTH)
    with pytest.raises(ExpressionError, match="nested more than"):
        mask(FRAME, "(" * (MAX_DEPTH + 1) + "formed" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExpressionError, match="nested more than"):
        mask(FRAME, "not " * (MAX_DEPTH + 1) + "formed")
    longest = "formed" + " " * (MAX_LENGTH - len("formed"))
    assert mask(FRAME, longest).tolist() == column("formed")
    with pytest.raises(ExpressionError, match="characters long"):
        mask(FRAME, longest + " ")


# ----------------------------------------------------------------------------- hostile input

SECRET = "TOPSECRET-7f3a9c"

# {tmp} is a fresh folder; {secret} a file in it holding SECRET. Every one must be refused.
HOSTILE = [
    # the three of issue 9
    "formed and (@pd.io.common.os.system('id > {tmp}/x') == 0)",
    "@runs.to_csv('{tmp}/leak.csv')",
    "@np.loadtxt('{secret}')",
    # local and global variables
    "@__builtins__",
    "formed and @os.system('touch {tmp}/pwned') == 0",
    "@self",
    # Python: imports, calls, dunder chains
    "__import__('os').system('touch {tmp}/pwned')",
    "formed.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "formed.__class__.__init__.__globals__",
    "formed.__class__ == formed",
    "lambda: __import__('os')",
    "(lambda x: x)(formed)",
    "open('{secret}').read() == 'x'",
    "eval('1 == 1')",
    "exec('import os')",
    "pd.read_csv('{secret}')",
    "status.Pakistan.str.contains('dep')",
    "formed.to_csv('{tmp}/leak.csv')",
    "formed if True else formed",
    "[x for x in ()]",
    "{{'a': 1}}",
    "f'{{formed}}' == 'x'",
    "b'formed' == formed",
    # subscripts and slices
    "formed[0]",
    "status.Pakistan[0:3] == 'dep'",
    "runs['formed']",
    # pandas query syntax that is not ours
    "formed | (status.Pakistan == 'deployed')",
    "formed & True",
    "~formed",
    "status.Pakistan is 'deployed'",
    "formed == True == True",
    "'deployed' in status.Pakistan",
    "troops.Egypt ** 2 > 1",
    "troops.Egypt + 1 > 2",
    # backquote tricks
    "`formed` and `__import__('os').system('touch {tmp}/pwned')`",
    "`formed`) or (`formed`",
    "`formed and formed",
    "`` == 'x'",
    "`status.Pakistan\x00` == 'x'",
    "formed and `{secret}`",
    # unicode look-alikes and invisible characters
    "\uff46ormed",  # fullwidth f
    "formed \u0430nd formed",  # Cyrillic a
    "status.Pakistan \uff1d\uff1d 'deployed'",  # fullwidth =
    "formed\u200band formed",  # zero-width space
    "\u0663 < troops.Egypt",  # Arabic-Indic digit three
    "formed and status.Paki\u0455tan == 'deployed'",  # Cyrillic s
    # numbers
    "1e999 < troops.Egypt",
    "troops.Egypt > " + "9" * 400,
    "troops.Egypt > 0x1F",
    "troops.Egypt > 1_000",
    "troops.Egypt > nan",
    # terminal escapes, statements, comments
    "\x1b]0;owned\x07formed",
    "formed; import os",
    "formed # comment",
    "formed \\\n or formed",
    # size and depth
    "(" * 200 + "formed" + ")" * 200,
    "not " * 200 + "formed",
    "formed and " * 10_000 + "formed",  # about 100 KB
    "x" * 102_400,
    "",
    "   ",
]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    box = tmp_path / "box"
    box.mkdir()
    secret = box / "secret.txt"
    secret.write_text(SECRET + "\n")
    monkeypatch.chdir(box)
    return box, secret


def _refused(box, secret, out, err, code):
    assert code == 2
    assert "--outcome" in err and "Traceback" not in err + out
    assert SECRET not in out + err
    assert sorted(p.name for p in box.rglob("*")) == ["secret.txt"]  # nothing written


def test_there_are_at_least_forty_hostile_inputs():
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize("template", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_outcome_is_refused_without_side_effect(template, sandbox, capsys):
    box, secret = sandbox
    text = template.replace("{tmp}", str(box)).replace("{secret}", str(secret)) \
        .replace("{{", "{").replace("}}", "}")
    code = main(["discover", str(BASELINE), "--outcome", text, "--runs", "50", "--workers", "1",
                 "--out", str(box / "results"), "--no-progress"])
    captured = capsys.readouterr()
    _refused(box, secret, captured.out, captured.err, code)
    assert len(captured.err) < 4000  # never the whole of a 100 KB expression


@pytest.mark.parametrize("template", HOSTILE[:3])
def test_issue_examples_refused_by_run_py(template, sandbox):
    box, secret = sandbox
    text = template.replace("{tmp}", str(box)).replace("{secret}", str(secret))
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "discover", str(BASELINE),
                        "--outcome", text, "--runs", "50", "--out", str(box / "results")],
                       capture_output=True, text=True, cwd=box, timeout=120)
    _refused(box, secret, p.stdout, p.stderr, p.returncode)
    assert "'@' is not allowed" in p.stderr and "Allowed:" in p.stderr


def test_nothing_in_the_evaluator_reaches_python_objects():
    """The module that reads user text calls no eval/exec/compile/getattr, and no pandas
    query/eval: checked on its source, so that a later edit reintroducing one fails here."""
    builtin = re.compile(r"(?<![\w.])(eval|exec|compile|getattr|setattr|__import__|globals|"
                         r"locals|vars)\s*\(")
    pandas = re.compile(r"\.(eval|query)\s*\(|import ast|from ast")
    for path in ("sim/analysis/expression.py", "sim/analysis/studies.py"):
        source = (ROOT / path).read_text()
        assert not builtin.search(source) and not pandas.search(source), path


def test_a_name_is_only_ever_a_column():
    """Names that are Python objects in the evaluator's module are unknown columns here."""
    for name in ("np", "pd", "operator", "expression", "mask", "FRAME", "self", "runs"):
        with pytest.raises(ExpressionError, match=f"unknown column '{name}'"):
            mask(FRAME, f"{name} == 1")
    assert expression.columns_used(expression.parse("a and (b or not c) and a in [1]")) == \
        ["a", "b", "c"]
