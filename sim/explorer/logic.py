"""What the interactive explorer does, without the page: its controls and the overrides they
make, loading and saving scenario files (through `files`, which confines them), the step-through
run with its round timeline, the history of batches and the network drawing. `app.py` is the
page.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from .. import vocabulary as vocab  # noqa: E402
from ..analysis.summary import newcombe, wilson  # noqa: E402
from ..model import NegotiationModel, release  # noqa: E402
from ..scenario import LoadedScenario, get_path, load_scenario, parse_override  # noqa: E402
from ..scenario.quantity import DISTRIBUTIONS, is_distribution  # noqa: E402
from . import files  # noqa: E402

ROOT = files.ROOT
SCENARIOS = files.SCENARIOS


def shipped_scenarios() -> list[str]:
    return sorted(p.name for p in SCENARIOS.glob("*.yaml"))


def load(folders: files.Folders, name_or_path: str, extra: list[str] | None = None
         ) -> LoadedScenario:
    """A scenario file named on the page: a path relative to the user folder or to scenarios/,
    or an absolute path, inside the permitted folders (so are its `extends` parents)."""
    path = files.find(folders, name_or_path)
    return load_scenario(path, extra or [], roots=folders.roots)


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class Control:
    """A slider on the page, tied to one numeric parameter of the scenario.

    `original` is the parameter as the scenario gives it: a number, or a distribution. A number
    gets a slider of its value; a distribution gets a range slider that moves (and stretches)
    it, keeping its shape, and a switch that fixes one value instead. `low` and `high` are the
    parameter's valid range (the schema's), which no setting leaves."""

    path: str
    label: str
    group: str
    low: float
    high: float
    original: object
    step: float = 0.01
    note: str = ""

    @property
    def uncertain(self) -> bool:
        return is_distribution(self.original)

    @property
    def movable(self) -> bool:
        """A distribution whose range the slider can move (a known form with a support of
        some width)."""
        return self.uncertain and moved(self.original, *self.support) is not None

    @property
    def initial(self) -> float:
        """The scenario's value, or a distribution's central value (where a fixed value
        starts when the user switches to one)."""
        x = float(self.original.nominal()) if self.uncertain else float(self.original)
        return min(max(x, self.low), self.high)

    @property
    def support(self) -> tuple[float, float]:
        if not self.uncertain:
            return (self.initial, self.initial)
        lo, hi = self.original.support()
        return (float(lo), float(hi))

    def describe(self) -> str:
        return _fmt(self.initial) if not self.uncertain else self.original.describe()


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def unnamed(loaded: LoadedScenario) -> set[str]:
    """The unnamed candidates ('Other 1', ...) that the scenario's `others` template makes:
    a file names none of them, so the page sets them through the template."""
    others = loaded.scenario.others
    return set() if others is None else {f"{others.name} {i}"
                                         for i in range(1, others.count + 1)}


def controls(loaded: LoadedScenario) -> list[Control]:
    """The sliders: each named contributor's willingness and domestic opposition, those of the
    unnamed candidates (one template for them all), Israel's threat score of each named
    contributor and of a state it does not list, and the convener's pressure, each over its
    valid range."""
    out = []
    others = loaded.scenario.others
    extra = unnamed(loaded)
    named = [c for c, s in loaded.scenario.countries.items()
             if s.role == "contributor" and c not in extra]
    template = others is not None and others.count > 0 and others.country.role == "contributor"
    many = f"{others.name} 1 to {others.name} {others.count}" if template else ""

    def control(path, label, group, default=None, note=""):
        try:
            original = get_path(loaded.tree, path)
        except (KeyError, IndexError, TypeError, ValueError):
            original = default
        if original is None:
            return
        rng = loaded.bounds.get(path)
        low = rng.lo if rng is not None and rng.lo is not None else 0.0
        high = rng.hi if rng is not None and rng.hi is not None else 1.0
        out.append(Control(path, label, group, float(low), float(high), original, note=note))

    for c in named:
        control(f"countries.{c}.willingness", f"{c}: willingness", "Willingness")
    if template:
        control("others.country.willingness", f"Unnamed candidates ({many}): willingness",
                "Willingness", note="each draws its own value")
    for c in named:
        if loaded.scenario.countries[c].domestic is not None:
            control(f"countries.{c}.domestic.opposition_strength",
                    f"{c}: opposition strength", "Domestic opposition")
    if template and others.country.domestic is not None:
        control("others.country.domestic.opposition_strength",
                f"Unnamed candidates ({many}): opposition strength", "Domestic opposition")
    default = get_path(loaded.tree, "israel.default_threat")
    listed = loaded.tree["israel"].get("threat") or {}
    for c in named:
        control(f"israel.threat.{c}", f"Israel's threat score of {c}", "Israel", default,
                note="" if c in listed else "Israel's default")
    control("israel.default_threat", "Israel's threat score of a state it does not list"
            + (f" ({many})" if template else ""), "Israel")
    control("convener.pressure", "US pressure on Israel", "Convener")
    return out


def valid_setting(c: Control, setting) -> dict | None:
    """A setting as the page stores it, checked (a browser may send anything): `{"fix": v}` or,
    for a distribution, `{"range": (lo, hi)}`, clipped to the parameter's valid range; None if
    it cannot be used."""
    if not isinstance(setting, dict):
        return None

    def num(x):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        return min(max(float(x), c.low), c.high)

    if "fix" in setting:
        v = num(setting["fix"])
        return None if v is None else {"fix": v}
    if "range" in setting and c.movable:
        r = setting["range"]
        if not isinstance(r, list | tuple) or len(r) != 2:
            return None
        lo, hi = num(r[0]), num(r[1])
        if lo is None or hi is None:
            return None
        lo, hi = min(lo, hi), max(lo, hi)
        if hi - lo < c.step:  # a range needs a width; squeezed to a point it fixes the value
            return {"fix": lo}
        return {"range": (lo, hi)}
    return None


def _r(x: float) -> float:
    """A number as an override writes it (6 decimals: the sliders move by 0.01)."""
    return round(float(x), 6) + 0.0  # + 0.0: never -0.0


def moved(dist, lo: float, hi: float) -> dict | None:
    """`dist` mapped linearly from its support onto [lo, hi], as a scenario mapping: the same
    shape, moved and stretched (a uniform stays uniform; a triangular keeps its mode where it
    was relative to the range; a truncated normal its mean and sd relative to the range; a
    beta its shape; a choice its values' spacing and weights). Every point it gives lies in
    [lo, hi], and the mapping is checked by the schema's own model of the form. None for a
    form this does not know, a support without width, or numbers the schema refuses."""
    try:
        a, b = (float(x) for x in dist.support())
        lo, hi = float(lo), float(hi)
    except (AttributeError, TypeError, ValueError):
        return None
    if not (math.isfinite(a) and math.isfinite(b) and b > a and math.isfinite(lo)
            and math.isfinite(hi) and hi > lo):
        return None
    form = dist.model_dump(exclude_none=True, exclude={"source"})
    scale = (hi - lo) / (b - a)
    lo, hi = _r(lo), _r(hi)

    def f(x):  # a point of the support, mapped and kept inside [lo, hi]
        return min(max(_r(lo + (float(x) - a) * scale), lo), hi)

    if "uniform" in form:
        out = {"uniform": [lo, hi]}
    elif "triangular" in form:
        out = {"triangular": [lo, f(form["triangular"][1]), hi]}
    elif "truncnormal" in form:
        mean, sd = form["truncnormal"][:2]
        out = {"truncnormal": [_r(lo + (float(mean) - a) * scale),
                               max(_r(float(sd) * scale), 1e-6), lo, hi]}
    elif "beta" in form:
        out = {"beta": [float(x) for x in form["beta"][:2]] + [lo, hi]}
    elif "choice" in form:
        out = {"choice": [f(v) for v in form["choice"]]}
        if form.get("weights") is not None:
            out["weights"] = [float(w) for w in form["weights"]]
    else:
        return None
    try:
        form_of(out)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
    return out


def range_of(c: Control, lo: float, hi: float) -> dict:
    """The distribution of `c` moved onto [lo, hi], checked against the parameter's valid
    range (ValueError, in plain words, if it cannot be)."""
    out = moved(c.original, lo, hi)
    if out is None:
        raise ValueError(f"{c.label}: the range {_fmt(lo)} to {_fmt(hi)} cannot hold "
                         f"{c.describe()}")
    s_lo, s_hi = form_of(out).support()
    if s_lo < c.low - 1e-9 or s_hi > c.high + 1e-9:
        raise ValueError(f"{c.label}: must lie in [{_fmt(c.low)}, {_fmt(c.high)}]")
    return out


def unchanged(c: Control, setting: dict | None) -> bool:
    """Whether a (valid) setting leaves the parameter as the scenario gives it: a slider shows
    its value on its step grid, so within half a step it was not moved (a distribution's
    range put back where it was, or a number's slider touched and returned)."""
    if setting is None:
        return True
    half = c.step / 2 + 1e-9
    if "fix" in setting:
        return not c.uncertain and abs(setting["fix"] - c.initial) <= half
    (lo, hi), (a, b) = setting["range"], c.support
    return abs(lo - a) <= half and abs(hi - b) <= half


def describe_setting(c: Control, setting: dict | None) -> str:
    """What the parameter is now, in words, for the page."""
    note = f"; {c.note}" if c.note else ""
    if unchanged(c, setting):
        return f"{c.describe()} (as in the scenario{note})"
    if "fix" in setting:
        return f"fixed at {_fmt(setting['fix'])}" + (
            f" (the scenario draws it: {c.describe()})" if c.uncertain else
            f" (the scenario: {c.describe()})")
    lo, hi = setting["range"]
    try:
        shown = form_of(range_of(c, lo, hi)).describe()
    except ValueError:
        shown = f"{_fmt(lo)} to {_fmt(hi)}"
    return f"{shown}, moved from the scenario's {c.describe()}"


def form_of(mapping: dict):
    """A distribution written as a scenario mapping, as the schema reads it."""
    return DISTRIBUTIONS[next(k for k in mapping if k in DISTRIBUTIONS)].model_validate(mapping)


def overrides(loaded: LoadedScenario, settings: dict, mandate: list[str]) -> list[str]:
    """The `--set` overrides that turn the scenario into the page's current settings: only the
    parameters the user changed, and the mandate if a task was switched. A parameter not
    touched stays exactly as in the scenario (a distribution stays a distribution); a moved
    range is the same distribution over the new range; only the switch fixes one value."""
    out = []
    for c in controls(loaded):
        s = valid_setting(c, settings.get(c.path))
        if unchanged(c, s):
            continue
        if "fix" in s:
            out.append(f"{c.path}={_r(s['fix'])}")
        else:
            text = yaml.safe_dump(range_of(c, *s["range"]), default_flow_style=True,
                                  width=1000).strip()
            out.append(f"{c.path}={text}")
    if list(mandate) != list(loaded.scenario.mandate):
        ordered = [t for t in loaded.scenario.tasks if t in mandate]
        out.append("mandate=[" + ", ".join(ordered) + "]")
    return out


# --------------------------------------------------------------------------- one run


def start_run(loaded: LoadedScenario, seed: int) -> NegotiationModel:
    """A traced model, ready to be stepped round by round (the same run as `run.py trace`)."""
    return NegotiationModel(loaded, seed, trace=True)


def run_to(loaded: LoadedScenario, seed: int, round_: int) -> NegotiationModel:
    """The run of this seed after `round_` rounds (or at its end, if it ended sooner). The model
    is deterministic for a seed, so going back a round is re-running from the start."""
    model = start_run(loaded, seed)
    while model.running and model.round < round_:
        model.step()
    release(model)  # the page only reads it: Mesa's registry must not keep every round alive
    return model


@dataclass(frozen=True)
class RunStory:
    """The whole run of a seed, known up front, so that the timeline can offer every round:
    its outcome, its last round, its decisive round, and what changed in each round (round ->
    lines such as "Indonesia: pledged, awaiting approval")."""

    outcome: dict
    last_round: int
    decisive_round: int
    changes: dict[int, list[str]] = field(default_factory=dict)

    @property
    def decisive_why(self) -> str:
        if self.outcome.get("formed"):
            return "the force formed"
        if self.outcome.get("reason") == vocab.COLLAPSE:
            return "the talks collapsed"
        return "the last round in which a status, the mandate or the troops changed"


def _snapshot(model: NegotiationModel) -> tuple[dict, tuple]:
    """What a round can change that counts: each country's shown status, the mandate and
    Israel's consent to it, and the committed, approved and deployed troops (pressure and
    clarity drift every round and do not count)."""
    statuses = {c: shown_status(a) for c, a in model.countries.items()}
    return statuses, (model.mandate, model.israel.mandate_accepted, model.committed_troops(),
                      model.approved_troops()[0], model.deployed_troops())


def story(loaded: LoadedScenario, seed: int) -> RunStory:
    """The run of this seed, stepped once to its end (the Mesa model, as `trace` runs it):
    its outcome, its last round, what changed in each round, and its decisive round: the
    round the force formed; for a run that failed, the round the talks collapsed, or else the
    last round in which any status, the mandate or the troops changed (after it, the talks
    only ran out the clock)."""
    model = NegotiationModel(loaded, seed)
    labels = {t: spec.label for t, spec in loaded.scenario.tasks.items()}
    before = _snapshot(model)
    changes: dict[int, list[str]] = {}
    moved_last = 1
    while model.running:
        model.step()
        now = _snapshot(model)
        lines = [f"{c}: {status_label(s)}" for c, s in now[0].items() if before[0].get(c) != s]
        if now[1][0] != before[1][0]:
            lines.append("mandate: " + (", ".join(labels.get(t, t) for t in now[1][0])
                                        or "no tasks"))
        if now[1][1] != before[1][1]:
            lines.append("Israel " + ("accepts" if now[1][1] else "refuses") + " the mandate")
        if lines or now[1] != before[1]:
            moved_last = model.round
        if lines:
            changes[model.round] = lines
        before = now
    outcome = model.outcome()
    release(model)
    last = model.round
    if outcome.get("formed") and outcome.get("formed_round"):
        decisive = int(outcome["formed_round"])
    elif outcome.get("reason") == vocab.COLLAPSE:
        decisive = last
    else:
        decisive = moved_last
    return RunStory(outcome, last, min(max(decisive, 1), max(last, 1)), changes)


# --------------------------------------------------------------------------- batches

#: runs a batch of the page may have (the page's slider; anything a browser sends is clipped)
RUNS_MIN, RUNS_MAX = 100, 1000


@dataclass
class Batch:
    """One batch of runs on the page: the scenario, its settings changed from the file (as
    `--set` overrides), the seed, what it gave, and how long it took."""

    number: int
    settings: list[str]
    seed: int
    summary: dict = field(repr=False)
    scenario: str = ""
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        return int(self.summary["runs"])

    @property
    def formed(self) -> int:
        return int(self.summary["formation"][0]["runs"])

    @property
    def probability(self) -> float:
        return self.formed / self.runs if self.runs else float("nan")


def run_batch(loaded: LoadedScenario, runs: int, seed: int, *, settings=(), number: int = 1,
              scenario: str = "", on_progress=None) -> Batch:
    """A batch of the page: `runs` runs of the loaded scenario (its settings applied) from
    master seed `seed`, through the one entry point (`run_experiment`, which computes them by
    the compiled fast path), summarised as `run.py run` summarises them, with the same
    numbers. The page shows no counterfactual shares, so the batch replays no run with its
    blockers lifted, and it keeps no round-by-round table: the runs and the summary are all
    the page needs (the time from a click to the odds, `benchmarks/explorer_batch.py`)."""
    from ..analysis.summary import Accumulator, summarise
    from ..experiments import run_experiment

    n = min(max(int(runs), RUNS_MIN), RUNS_MAX)
    started = time.perf_counter()
    # the runs are computed on threads (the compiled kernel releases the GIL): every core
    experiment = run_experiment(loaded, n, seed, rounds=False, workers=min(4, os.cpu_count() or 1),
                                chunk=max(100, -(-n // 4)), on_progress=on_progress,
                                log=lambda message: None, counterfactuals=0)
    table = experiment.table("runs")
    summary = summarise(table.select(Accumulator.columns(table.column_names)), loaded, seed,
                        counterfactual_runs=0)
    return Batch(number, list(settings), seed, summary, scenario or loaded.name,
                 time.perf_counter() - started)


def warm_up(folders: files.Folders, log=None) -> None:
    """Load the fast path's compiled kernel from numba's disk cache (or compile it, the first
    time, which takes about a minute and is said so), by a small batch of the baseline: the
    page calls this as the server starts, so that its first batch does not wait for it."""
    from ..model.fast import announce_compilation

    announce_compilation(log or (lambda message: None))
    run_batch(load(folders, "baseline.yaml"), RUNS_MIN, 1)


def difference(batch: Batch, reference: Batch) -> tuple[float, float, float]:
    """P(force forms) of `batch` minus that of `reference`, with its 95% interval (Newcombe's
    method, which treats the batches as independent: with one seed they share their draws,
    so the interval is conservative)."""
    return newcombe(batch.formed, batch.runs, reference.formed, reference.runs)


def history_rows(batches: list[Batch], reference: int | None = None) -> list[dict]:
    """One row per batch: its probability and interval, and its difference from the previous
    batch (or from batch `reference`, when given and still in the history) in percentage
    points, with its 95% interval and whether it exceeds Monte Carlo noise (the interval
    excludes zero)."""
    by_number = {b.number: b for b in batches}
    chosen = by_number.get(reference) if reference is not None else None
    rows = []
    for i, b in enumerate(batches):
        lo, hi = wilson(b.formed, b.runs)
        ref = chosen if chosen is not None else (batches[i - 1] if i else None)
        row = {"batch": b.number, "scenario": b.scenario,
               "settings": "; ".join(b.settings) or "as in the scenario file",
               "seed": b.seed, "runs": b.runs, "p": b.probability, "ci": (lo, hi),
               "seconds": b.seconds, "reference": None, "diff": None, "exceeds_noise": None}
        if ref is not None and ref is not b:
            d, dlo, dhi = difference(b, ref)
            row.update(reference=ref.number, diff=(d, dlo, dhi),
                       exceeds_noise=bool(dlo > 0 or dhi < 0))
        rows.append(row)
    return rows


def pp(x: float) -> str:
    """A difference of two probabilities, in percentage points."""
    return f"{x * 100:+.1f} pp"


# --------------------------------------------------------------------------- the network

#: a display category of the page, not a model status: a pledge that stands and puts no one
#: into Gaza (no troops or logistics personnel, vocabulary.IN_GAZA), so Israel reviews none
#: of it; the model gives it the status `approved`, which must not look approved by Israel
NEEDS_NO_APPROVAL = "needs_no_approval"
NEEDS_NO_APPROVAL_LABEL = "pledge stands, needs no approval (no one sent into Gaza)"

#: colour of each status (keyed by the vocabulary's words); close statuses share a colour
STATUS_COLOURS = {
    vocab.NOT_INVITED: "#DDDDDD",
    vocab.INVITED: "#56B4E9",
    vocab.CONDITIONS_UNMET: "#56B4E9",
    vocab.SUSPENDED: "#CC79A7",
    vocab.PLEDGED: "#F0E442",
    vocab.APPROVED: "#0072B2",
    NEEDS_NO_APPROVAL: "#A6DDCF",
    vocab.DEPLOYED: "#009E73",
    vocab.VETOED: "#D55E00",
    vocab.BLOCKED_AT_HOME: "#882255",
    vocab.UNWILLING: "#E69F00",
    vocab.DECLINED_MANDATE: "#E69F00",
    vocab.INFLUENCER: "#FFFFFF",
}
#: the colour of a status this page does not know (the model may gain new ones)
UNKNOWN_COLOUR = "#9E9E9E"


def status_label(status: str) -> str:
    """The vocabulary's label of a status (the page's own category has its own)."""
    if status == NEEDS_NO_APPROVAL:
        return NEEDS_NO_APPROVAL_LABEL
    return vocab.STATUS_LABELS.get(status) or str(status).replace("_", " ")


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, UNKNOWN_COLOUR)


def shown_status(country) -> str:
    """The status to draw: the model's, except that an approved pledge that sends no one into
    Gaza (vocabulary.IN_GAZA) was never reviewed by Israel, so it is shown as needing no
    approval rather than as approved."""
    s = country.status
    if s == vocab.APPROVED:
        pledge = getattr(country, "pledge", None) or {}
        if not any(pledge.get(k, 0) > 0 for k in vocab.IN_GAZA):
            return NEEDS_NO_APPROVAL
    return s


def legend() -> list[tuple[str, str, list[str]]]:
    """Every status the page can show, in the vocabulary's order, as (colour, label,
    statuses): statuses that share a colour share an entry."""
    order = [*vocab.STATUSES]
    order.insert(order.index(vocab.APPROVED) + 1, NEEDS_NO_APPROVAL)
    entries: dict[str, tuple[list[str], list[str]]] = {}
    for s in order:
        labels, statuses = entries.setdefault(status_colour(s), ([], []))
        labels.append(status_label(s))
        statuses.append(s)
    return [(colour, " / ".join(labels), statuses) for colour, (labels, statuses)
            in entries.items()]


def _pledge_text(country) -> str:
    pledge = getattr(country, "pledge", None) or {}
    parts = [f"{pledge[k]:,.0f} {k.replace('_', ' ')}" for k in vocab.CONTRIBUTION_TYPES
             if k != "funding" and pledge.get(k, 0) > 0]
    if pledge.get("funding", 0) > 0:
        parts.append(f"USD {pledge['funding']:,.0f}m")
    return ", ".join(parts)


def country_rows(model: NegotiationModel) -> list[dict]:
    """Each country at the model's round: its shown status, the status's label and colour,
    and what it pledged (for the table beside the drawing)."""
    rows = []
    for name, c in model.countries.items():
        s = shown_status(c)
        rows.append({"country": name, "status": s, "label": status_label(s),
                     "colour": status_colour(s),
                     "pledge": _pledge_text(c) if c.status in vocab.STANDING else ""})
    return rows


def network_figure(model: NegotiationModel, decisive_round: int | None = None):
    """The countries on a circle, consultation ties as arrows, coloured by status; the
    convener and Israel beside them."""
    names = list(model.countries)
    n = len(names)
    pos = {c: (math.cos(2 * math.pi * i / n + math.pi / 2), math.sin(2 * math.pi * i / n +
                                                                       math.pi / 2))
           for i, c in enumerate(names)}
    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    for c in names:
        for partner in model.countries[c].spec.consults:
            (x0, y0), (x1, y1) = pos[c], pos[partner]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(
                arrowstyle="->", color="#777777", lw=1.2, shrinkA=17, shrinkB=17))
    shown: dict[str, list[str]] = {}  # colour -> labels of the statuses shown in it
    for c in names:
        status = shown_status(model.countries[c])
        colour, label = status_colour(status), status_label(status)
        if label not in shown.setdefault(colour, []):
            shown[colour].append(label)
        x, y = pos[c]
        ax.scatter([x], [y], s=900, color=colour, edgecolors="#333333", linewidths=1.2,
                   zorder=3)
        ax.text(x, y - 0.2, c, ha="center", va="top", fontsize=9, zorder=4)
    for colour, labels in shown.items():
        ax.scatter([], [], s=120, color=colour, edgecolors="#333333", label=" / ".join(labels))
    for (x, y), text in (((-1.55, 1.2), f"US / Board of Peace\npressure "
                          f"{model.convener.pressure:.2f}, clarity {model.convener.clarity:.2f}"),
                         ((1.55, 1.2), "Israel\nmandate " + (
                             "accepted" if model.israel.mandate_accepted else "refused"))):
        ax.scatter([x], [y], s=700, marker="s", color="#DDDDDD", edgecolors="#333333", zorder=3)
        ax.text(x, y - 0.17, text, ha="center", va="top", fontsize=8)
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    troops, states = model.approved_troops()
    formed = model.milestone["formed"] is not None
    title = f"Round {model.round}: {troops:,.0f} of {model.target:,.0f} troops approved from " \
        f"{states} states" + (" - THE FORCE HAS FORMED" if formed else "")
    if decisive_round is not None and model.round == decisive_round and not formed:
        title += " (the decisive round)"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, frameon=False,
              fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- saving


def save_scenario(folders: files.Folders, loaded: LoadedScenario, base_file: str | Path,
                  overrides_: list[str], dest: str, name: str) -> Path:
    """Write the current settings as a new scenario file in the user folder that extends the
    chosen one (see `files.save_text` for what is refused). The written file is loaded back
    before this returns, so what is saved is a scenario `run.py` accepts; if it is not, it is
    removed again."""
    base = Path(base_file).resolve()
    data: dict = {"extends": None, "name": name, "description": "Saved from the explorer: "
                  f"{loaded.name} with " + ("; ".join(overrides_) or "no changes")}
    for text in overrides_:
        key, value = parse_override(text)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, float):
            value = {"value": value, "source": "ASSUMPTION: set in the explorer"}
        elif isinstance(value, dict):
            value = {**value, "source": "ASSUMPTION: range set in the explorer"}
        node[parts[-1]] = value

    def content(folder: Path) -> str:
        data["extends"] = Path(os.path.relpath(base, folder)).as_posix()
        return "# Written by the ISF explorer (python run.py explore).\n" + \
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    target = Path(dest.strip()) if Path(dest.strip()).is_absolute() else folders.user / dest.strip()
    path = files.save_text(folders, dest, content(Path(os.path.realpath(target.parent))))
    try:
        load_scenario(path, roots=folders.roots)
    except Exception:
        files.remove(folders, path)
        raise
    return path
