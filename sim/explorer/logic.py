"""What the interactive explorer does, without the page: its controls, the step-through run, the
network drawing and saving the current settings as a scenario file. `sim/app.py` is the page.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from ..model import NegotiationModel, own_containers, run_seeds  # noqa: E402
from ..scenario import LoadedScenario, get_path, load_scenario, parse_override  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ROOT / "scenarios"


@dataclass(frozen=True)
class Control:
    """A slider on the page, tied to one numeric parameter of the scenario."""

    path: str
    label: str
    group: str
    low: float
    high: float
    initial: float
    step: float = 0.01


def shipped_scenarios() -> list[str]:
    return sorted(p.name for p in SCENARIOS.glob("*.yaml"))


def _value(loaded: LoadedScenario, path: str, default: float) -> float:
    try:
        q = get_path(loaded.tree, path)
    except (KeyError, IndexError):
        return default
    return float(q.nominal()) if hasattr(q, "nominal") else float(q)


def controls(loaded: LoadedScenario) -> list[Control]:
    """The sliders: each contributor's willingness, each domestic opposition, Israel's threat
    score of each contributor, and the convener's pressure. A slider starts at the scenario's
    value (the central value of a distribution)."""
    out = []
    contributors = [c for c, s in loaded.scenario.countries.items() if s.role == "contributor"]
    for c in contributors:
        out.append(Control(f"countries.{c}.willingness", f"{c}: willingness", "Willingness",
                           -1.0, 1.0, _value(loaded, f"countries.{c}.willingness", 0.0)))
    for c in contributors:
        if loaded.scenario.countries[c].domestic is not None:
            p = f"countries.{c}.domestic.opposition_strength"
            out.append(Control(p, f"{c}: opposition strength", "Domestic opposition", 0.0, 1.0,
                               _value(loaded, p, 0.0)))
    default = float(loaded.tree["israel"]["default_threat"])
    for c in contributors:
        p = f"israel.threat.{c}"
        out.append(Control(p, f"Israel's threat score of {c}", "Israel", 0.0, 1.0,
                           _value(loaded, p, default)))
    out.append(Control("convener.pressure", "US pressure on Israel", "Convener", 0.0, 1.0,
                       _value(loaded, "convener.pressure", 0.0)))
    return out


def overrides(loaded: LoadedScenario, values: dict[str, float], mandate: list[str]) -> list[str]:
    """The `--set` overrides that turn the scenario into the page's current settings: only the
    sliders that were moved, and the mandate if a task was switched."""
    out = []
    for c in controls(loaded):
        v = values.get(c.path, c.initial)
        # a slider shows its value on its step grid: within half a step it was not moved
        if abs(v - c.initial) > c.step / 2 + 1e-9:
            out.append(f"{c.path}={round(v, 6)}")
    if list(mandate) != list(loaded.scenario.mandate):
        ordered = [t for t in loaded.scenario.tasks if t in mandate]
        out.append("mandate=[" + ", ".join(ordered) + "]")
    return out


def load(name_or_path: str, extra: list[str] | None = None) -> LoadedScenario:
    """A shipped scenario by file name, or any scenario file by path (absolute, or relative to
    the current folder or to the project folder)."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = SCENARIOS / name_or_path if (SCENARIOS / name_or_path).exists() else ROOT / p
    return load_scenario(p, extra or [])


def start_run(loaded: LoadedScenario, seed: int) -> NegotiationModel:
    """A traced model, ready to be stepped round by round (the same run as `run.py trace`)."""
    prng, drng = run_seeds(seed)
    tree, _ = loaded.sample(prng)
    return NegotiationModel(own_containers(tree, loaded.event_paths), rng=drng, trace=True,
                            bounds=loaded.bounds)


# statuses as the page shows them: (label, colour)
NODE_STYLE = {
    "not_invited": ("not invited", "#F2F2F2"),
    "invited": ("invited", "#56B4E9"),
    "pledged": ("pledged", "#F0E442"),
    "approved": ("approved by Israel", "#0072B2"),
    "deployed": ("deployed", "#009E73"),
    "vetoed": ("rejected by Israel", "#D55E00"),
    "blocked_at_home": ("blocked at home", "#CC79A7"),
    "declined": ("declined", "#E69F00"),
    "influencer": ("consulted, sends nothing", "#FFFFFF"),
}
_GROUP = {"undecided": "invited", "conditions_unmet": "invited", "pledged": "pledged",
          "ratified": "pledged", "approved": "approved", "unwilling": "declined",
          "declined_mandate": "declined"}


def node_status(status: str) -> str:
    return _GROUP.get(status, status)


def network_figure(model: NegotiationModel):
    """The countries on a circle, consultation ties as arrows, coloured by status; the
    convener and Israel beside them."""
    names = list(model.countries)
    n = len(names)
    pos = {c: (math.cos(2 * math.pi * i / n + math.pi / 2), math.sin(2 * math.pi * i / n +
                                                                       math.pi / 2))
           for i, c in enumerate(names)}
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    for c in names:
        for partner in model.countries[c].spec["consults"]:
            (x0, y0), (x1, y1) = pos[c], pos[partner]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(
                arrowstyle="->", color="#777777", lw=1.2, shrinkA=17, shrinkB=17))
    seen = set()
    for c in names:
        key = node_status(model.countries[c].status)
        label, colour = NODE_STYLE[key]
        x, y = pos[c]
        ax.scatter([x], [y], s=900, color=colour, edgecolors="#333333", linewidths=1.2,
                   zorder=3, label=label if key not in seen else None)
        seen.add(key)
        ax.text(x, y - 0.2, c, ha="center", va="top", fontsize=9, zorder=4)
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
    ax.set_title(f"Round {model.round}: {troops:,.0f} of {model.target:,.0f} troops approved "
                 f"from {states} states" + (" - THE FORCE HAS FORMED" if model.formed else ""),
                 fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False,
              fontsize=8, markerscale=0.4)
    fig.tight_layout()
    return fig


def save_scenario(loaded: LoadedScenario, base_file: str | Path, overrides_: list[str],
                  dest: str | Path, name: str) -> Path:
    """Write the current settings as a scenario file that extends the chosen one.

    Refuses to overwrite an existing file. The written file is loaded back before this
    returns, so what is saved is a scenario `run.py` accepts.
    """
    dest = Path(dest)
    if not dest.is_absolute():
        dest = ROOT / dest  # paths on the page are relative to the project folder
    if dest.suffix not in (".yaml", ".yml"):
        raise ValueError(f"{dest}: a scenario file ends in .yaml")
    if dest.exists():
        raise ValueError(f"{dest} exists already: choose another name")
    data: dict = {"extends": os.path.relpath(Path(base_file).resolve(), dest.parent.resolve()),
                  "name": name, "description": f"Saved from the explorer: {loaded.name} with "
                  + ("; ".join(overrides_) or "no changes")}
    for text in overrides_:
        key, value = parse_override(text)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value if not isinstance(value, float) else \
            {"value": value, "source": "ASSUMPTION: set in the explorer"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("# Written by the ISF explorer (python run.py explore).\n"
                    + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    try:
        load_scenario(dest)
    except Exception:
        dest.unlink()
        raise
    return dest
