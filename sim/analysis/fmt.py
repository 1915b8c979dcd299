"""How numbers, shares, differences and names are written in every table, plot and report: one
way each (`800 to 4,000`, `4,650`, `12.5%`, `<0.5%`, `+3.2 pp`, `1 run`, `disarmament,
border security`)."""

from __future__ import annotations

import math


def number(v, digits: int = 3) -> str:
    """A number as people write it: thousands with separators and no decimals (`4,650`),
    whole numbers as they are (`12`), others to `digits` significant digits (`0.35`,
    `0.0012`); never in e-notation."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    v = float(v)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if abs(v) >= 1000 or v == int(v):
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def span(lo, hi) -> str:
    """A range: `800 to 4,000`."""
    return f"{number(lo)} to {number(hi)}"


def share(p, decimals: int = 1) -> str:
    """A share as a percentage (`12.5%`); a share above 0 that would round to 0 is `<0.5%`
    (with decimals=0) or `<0.05%` (decimals=1), never `0%`."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    text = f"{p:.{decimals}%}"
    smallest = 0.5 * 10 ** -decimals  # in percent
    if p > 0 and float(text[:-1]) == 0:
        return f"<{smallest:.{decimals + 1}f}%"
    if p < 1 and float(text[:-1]) == 100:
        return f">{100 - smallest:.{decimals + 1}f}%"
    return text


def interval(lo, hi, decimals: int = 1) -> str:
    """A 95% interval of a share: `[9.7%, 17.3%]`."""
    return f"[{share(lo, decimals)}, {share(hi, decimals)}]"


def pp(d, decimals: int = 1) -> str:
    """A difference of two shares in percentage points: `+3.2 pp`."""
    return f"{d * 100:+.{decimals}f} pp"


def pp_interval(lo, hi, decimals: int = 1) -> str:
    return f"[{lo * 100:+.{decimals}f}, {hi * 100:+.{decimals}f}] pp"


def runs(n: int, word: str = "run") -> str:
    """`1 run`, `300 runs`, `1,000 runs`."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def task(name: str) -> str:
    """A task as words: `forcible_disarmament` -> `forcible disarmament`."""
    return name.replace("_", " ")


def mandate(text: str) -> str:
    """A mandate (tasks joined by `+` in the tables) as words: `border security, disarmament`;
    `(no tasks)` for an empty one."""
    return ", ".join(task(t) for t in text.split("+") if t) or "(no tasks)"


def composition(text: str) -> str:
    """A force composition (`Indonesia+Pakistan+Other x3`) as words."""
    return text.replace("+", ", ")


def param(path: str) -> str:
    """A parameter path as a readable label: `countries.Pakistan.domestic.opposition_strength`
    -> `Pakistan domestic opposition strength`. The path itself stays in every table."""
    if path.startswith("param."):
        path = path[len("param."):]
    return path.replace("countries.", "").replace(".domestic.", " domestic ").replace(
        "convener.", "convener ").replace("israel.threat.", "Israel's threat score of ").replace(
        "israel.", "Israel ").replace("environment.", "").replace("_", " ").replace(".", " ")


def clip(text: str, width: int = 60) -> str:
    """Text cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[:width - 1] + "…"


#: longest scenario name shown in titles and tables
DISPLAY_WIDTH = 100


def display_name(name: str, width: int = DISPLAY_WIDTH) -> str:
    """A scenario's name as titles and tables show it: cut to `width` characters (the whole
    name stays in metadata.json); a name of thousands of characters would make every plot
    title and table unreadable, and slow to draw."""
    return clip(name, width)


__all__ = ["DISPLAY_WIDTH", "clip", "composition", "display_name", "interval", "mandate",
           "number", "param", "pp", "pp_interval", "runs", "share", "span", "task"]
