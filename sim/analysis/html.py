"""The HTML reports, rendered from the Jinja2 templates in `sim/analysis/templates/` with
autoescaping on: every value a template shows is escaped unless it is one of our own plots
(`figure`), so a scenario named `<script>` is shown as text. A page can be changed by editing
its template, without touching Python."""

from __future__ import annotations

import functools
from pathlib import Path

from . import fmt


@functools.cache
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.analysis", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update({
        "share": fmt.share, "number": fmt.number, "span": fmt.span, "pp": fmt.pp,
        "pp_interval": fmt.pp_interval, "runs": fmt.runs, "interval": fmt.interval,
        "mandate": fmt.mandate, "composition": fmt.composition, "param": fmt.param,
        "task": fmt.task, "ci": lambda x: fmt.interval(x["ci_low"], x["ci_high"]),
    })
    return env


def figure(path: Path):
    """One of our own SVG plots, to be placed in a page as it is (the file's XML prolog left
    out); empty if it is missing. matplotlib escapes every text it writes into an SVG."""
    from markupsafe import Markup

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Markup("")
    start = text.find("<svg")
    return Markup(text[start:]) if start >= 0 else Markup("")


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


__all__ = ["environment", "figure", "render"]
