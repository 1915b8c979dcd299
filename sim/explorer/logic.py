"""What the interactive explorer does, without the page: its controls and the overrides they
make, loading and saving scenario files (through `files`, which confines them), the step-through
run with its round timeline, the history of batches and the network drawing. `app.py` is the
page.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from .. import vocabulary as vocab  # noqa: E402
from ..analysis.summary import newcombe, wilson  # noqa: E402
from ..model import NegotiationModel, simulate  # noqa: E402
from ..scenario import LoadedScenario, get_path, load_scenario, parse_override  # noqa: E402
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
    it, and a switch that fixes one value instead."""

    path: str
    label: str
    group: str
    low: float
    high: float
    original: object
    step: float = 0.01

    @property
    def uncertain(self) -> bool:
        return not isinstance(self.original, int | float)

    @property
    def initial(self) -> float:
        """The scenario's value, or a distribution's central value (where a fixed value
        starts when the user switches to one)."""
        return float(self.original) if not self.uncertain else float(self.original.nominal())

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


def controls(loaded: LoadedScenario) -> list[Control]:
    """The sliders: each contributor's willingness, each domestic opposition, Israel's threat
    score of each contributor, and the convener's pressure, each over its valid range."""
    out = []
    contributors = [c for c, s in loaded.scenario.countries.items() if s.role == "contributor"]

    def control(path, label, group, default):
        try:
            original = get_path(loaded.tree, path)
        except (KeyError, IndexError):
            original = default
        rng = loaded.bounds.get(path)
        low = rng.lo if rng is not None and rng.lo is not None else 0.0
        high = rng.hi if rng is not None and rng.hi is not None else 1.0
        out.append(Control(path, label, group, float(low), float(high), original))

    for c in contributors:
        control(f"countries.{c}.willingness", f"{c}: willingness", "Willingness", 0.0)
    for c in contributors:
        if loaded.scenario.countries[c].domestic is not None:
            control(f"countries.{c}.domestic.opposition_strength",
                    f"{c}: opposition strength", "Domestic opposition", 0.0)
    default = float(loaded.tree["israel"]["default_threat"])
    for c in contributors:
        control(f"israel.threat.{c}", f"Israel's threat score of {c}", "Israel", default)
    control("convener.pressure", "US pressure on Israel", "Convener", 0.0)
    return out


def valid_setting(c: Control, setting) -> dict | None:
    """A setting as the page stores it, checked (a browser may send anything): `{"fix": v}` or,
    for a distribution, `{"range": (lo, hi)}`, clipped to the slider's range; None if it
    cannot be used."""
    if not isinstance(setting, dict):
        return None

    def num(x):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        return min(max(float(x), c.low), c.high)

    if "fix" in setting:
        v = num(setting["fix"])
        return None if v is None else {"fix": v}
    if "range" in setting and c.uncertain and moved(c.original, 0.0, 1.0) is not None:
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


def moved(dist, lo: float, hi: float) -> dict | None:
    """`dist` mapped linearly from its support onto [lo, hi] (same shape, moved and stretched),
    as a scenario mapping; None for a form this does not know."""
    form = dist.model_dump(exclude_none=True, exclude={"source"})
    a, b = (float(x) for x in dist.support())
    if not b > a:
        return None
    scale = (hi - lo) / (b - a)

    def f(x):
        return round(lo + (float(x) - a) * scale, 6)

    lo, hi = round(lo, 6), round(hi, 6)
    if "uniform" in form:
        return {"uniform": [lo, hi]}
    if "triangular" in form:
        return {"triangular": [lo, f(form["triangular"][1]), hi]}
    if "truncnormal" in form:
        mean, sd = form["truncnormal"][:2]
        return {"truncnormal": [f(mean), round(float(sd) * scale, 6), lo, hi]}
    if "beta" in form:
        return {"beta": [*form["beta"][:2], lo, hi]}
    if "choice" in form:
        out = {"choice": [f(v) for v in form["choice"]]}
        if form.get("weights") is not None:
            out["weights"] = list(form["weights"])
        return out
    return None


def describe_setting(c: Control, setting: dict | None) -> str:
    """What the parameter is now, in words, for the page."""
    if setting is None:
        return f"{c.describe()} (as in the scenario)"
    if "fix" in setting:
        return f"fixed at {_fmt(setting['fix'])}" + (
            f" (the scenario draws it: {c.describe()})" if c.uncertain else "")
    lo, hi = setting["range"]
    return f"{_fmt(lo)} to {_fmt(hi)}, same shape (the scenario: {c.describe()})"


def overrides(loaded: LoadedScenario, settings: dict, mandate: list[str]) -> list[str]:
    """The `--set` overrides that turn the scenario into the page's current settings: only the
    parameters the user changed, and the mandate if a task was switched. A parameter not
    touched stays exactly as in the scenario (a distribution stays a distribution)."""
    out = []
    for c in controls(loaded):
        s = valid_setting(c, settings.get(c.path))
        if s is None:
            continue
        if "fix" in s:
            # a slider shows its value on its step grid: within half a step it was not moved
            if c.uncertain or abs(s["fix"] - c.initial) > c.step / 2 + 1e-9:
                out.append(f"{c.path}={round(s['fix'], 6)}")
            continue
        lo, hi = s["range"]
        a, b = c.support
        if abs(lo - a) > c.step / 2 + 1e-9 or abs(hi - b) > c.step / 2 + 1e-9:
            text = yaml.safe_dump(moved(c.original, lo, hi), default_flow_style=True,
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
    return model


# what must change for a round to count as having moved the negotiation (pressure and clarity
# drift every round and do not count)
_STATE = ("mandate", "mandate_accepted", "committed_troops", "approved_troops",
          "deployed_troops")


@dataclass(frozen=True)
class RunStory:
    """The whole run of a seed, known up front, so the timeline can offer every round."""

    outcome: dict
    last_round: int
    decisive_round: int


def story(loaded: LoadedScenario, seed: int) -> RunStory:
    """The run's outcome, its last round and its decisive round: the round the force formed,
    or, for a run that failed, the last round in which any status, the mandate or the troops
    changed (after it, the talks only ran out the clock)."""
    rec = simulate(loaded, seed, rounds=True)
    rows = rec.rounds or []
    last = len(rows)
    if rec.outcome.get("formed") and rec.outcome.get("formed_round"):
        return RunStory(rec.outcome, last, int(rec.outcome["formed_round"]))

    def state(row):
        return tuple(row.get(k) for k in _STATE) + tuple(
            v for k, v in sorted(row.items()) if k.startswith("status."))

    decisive = 1
    for r in range(2, last + 1):
        if state(rows[r - 1]) != state(rows[r - 2]):
            decisive = r
    return RunStory(rec.outcome, last, min(decisive, max(last, 1)))


# --------------------------------------------------------------------------- batches


@dataclass
class Batch:
    """One batch of runs on the page: its settings and what it gave."""

    number: int
    settings: list[str]
    seed: int
    summary: dict = field(repr=False)

    @property
    def runs(self) -> int:
        return int(self.summary["runs"])

    @property
    def formed(self) -> int:
        return int(self.summary["formation"][0]["runs"])

    @property
    def probability(self) -> float:
        return self.formed / self.runs if self.runs else float("nan")


def difference(batch: Batch, reference: Batch) -> tuple[float, float, float]:
    """P(force forms) of `batch` minus that of `reference`, with its 95% interval (Newcombe's
    method, which treats the batches as independent: with one seed they share their draws,
    so the interval is conservative)."""
    return newcombe(batch.formed, batch.runs, reference.formed, reference.runs)


def history_rows(batches: list[Batch], reference: int | None = None) -> list[dict]:
    """One row per batch: its probability and interval, and its difference from the previous
    batch (or from batch `reference`, when given and present)."""
    by_number = {b.number: b for b in batches}
    rows = []
    for i, b in enumerate(batches):
        lo, hi = wilson(b.formed, b.runs)
        ref = by_number.get(reference) if reference is not None else \
            (batches[i - 1] if i else None)
        row = {"batch": b.number, "settings": "; ".join(b.settings) or "as in the scenario",
               "seed": b.seed, "runs": b.runs, "p": b.probability, "ci": (lo, hi),
               "reference": None, "diff": None}
        if ref is not None and ref is not b:
            d, dlo, dhi = difference(b, ref)
            row.update(reference=ref.number, diff=(d, dlo, dhi))
        rows.append(row)
    return rows


def pp(x: float) -> str:
    """A difference of two probabilities, in percentage points."""
    return f"{x * 100:+.1f} pp"


# --------------------------------------------------------------------------- the network

NEEDS_NO_APPROVAL = "needs_no_approval"  # a display category of the page, not a model status

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
# labels for the statuses of a run in progress that the vocabulary labels only as final
# statuses (vocab.STATUS_LABELS covers the others)
_RUNNING_LABELS = {
    vocab.APPROVED: "approved by Israel",
    NEEDS_NO_APPROVAL: "pledged, sends no one into Gaza (no approval needed)",
}


def status_label(status: str) -> str:
    return _RUNNING_LABELS.get(status) or vocab.STATUS_LABELS.get(status) or \
        str(status).replace("_", " ")


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, UNKNOWN_COLOUR)


def shown_status(country) -> str:
    """The status to draw: the model's, except that a pledge that sends no one into Gaza
    (vocabulary.IN_GAZA) is approved without Israel and must not look approved by Israel."""
    s = country.status
    if s == vocab.APPROVED:
        pledge = getattr(country, "pledge", None) or {}
        if not any(pledge.get(k, 0) > 0 for k in vocab.IN_GAZA):
            return NEEDS_NO_APPROVAL
    return s


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
    legend: dict[str, list[str]] = {}  # colour -> labels of the statuses shown in it
    for c in names:
        status = shown_status(model.countries[c])
        colour, label = status_colour(status), status_label(status)
        if label not in legend.setdefault(colour, []):
            legend[colour].append(label)
        x, y = pos[c]
        ax.scatter([x], [y], s=900, color=colour, edgecolors="#333333", linewidths=1.2,
                   zorder=3)
        ax.text(x, y - 0.2, c, ha="center", va="top", fontsize=9, zorder=4)
    for colour, labels in legend.items():
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
