"""The agents: contributors, influencers, the convener and Israel, each with its decision rules.

Every rule is one method whose docstring names its mechanism (docs/ODD.md, "Submodels") and the
scenario parameters it reads. Agents read their parameters from the run's parameter tree, so a
scheduled event that changes a parameter is seen from the next decision on.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa

from ..vocabulary import CONTRIBUTION_TYPES, IN_GAZA, MOTIVES

# Statuses of a country during a run (docs/ODD.md, "State variables").
NOT_INVITED = "not_invited"
UNDECIDED = "undecided"
UNWILLING = "unwilling"
CONDITIONS_UNMET = "conditions_unmet"
DECLINED_MANDATE = "declined_mandate"
PLEDGED = "pledged"
RATIFIED = "ratified"
APPROVED = "approved"
VETOED = "vetoed"
BLOCKED_AT_HOME = "blocked_at_home"
DEPLOYED = "deployed"
INFLUENCER = "influencer"

#: statuses from which a country takes a fresh decision each round
OPEN = frozenset({UNDECIDED, UNWILLING, CONDITIONS_UNMET, DECLINED_MANDATE})
#: statuses that count as a commitment for other countries' conditions and spill-over
COMMITTED = frozenset({PLEDGED, APPROVED})


@dataclass(slots=True)
class View:
    """What every contributor sees at the start of a round (decisions are simultaneous)."""

    committed: frozenset[str]
    committed_troops: dict[str, float]
    total_troops: float
    target: float
    clarity: float
    ceasefire: float
    un_authorised: bool
    mandate: tuple[str, ...]
    risk: float
    incentive: float


class Country(mesa.Agent):
    """A state at or around the table; holds its stances on the mandate's tasks."""

    def __init__(self, model, name: str, spec: dict):
        super().__init__(model)
        self.name = name
        self.spec = spec
        self.stance = {t: spec["stances"].get(t, 0.0) for t in model.task_names}
        self.stated = frozenset(spec["stances"])  # tasks on which the country has a stance
        self._pulls = None
        self.status = INFLUENCER if spec["role"] == "influencer" else NOT_INVITED

    def consult(self) -> dict[str, float] | None:
        """Stance diffusion through the consultation network (DeGroot averaging).

        Mechanism: affinity networks (Ward & Dorussen 2016). Each round a country moves its
        stance on a task a share `consult_weight` of the way toward the mean stance of those
        countries in `consults` that hold a stated stance on that task (a task a partner has
        no stance on does not pull). Returns the new stances (applied by the model for all
        countries at once, so the order of countries does not matter) or None.
        """
        mu = self.spec["consult_weight"]
        if not self.spec["consults"] or mu == 0:
            return None
        if self._pulls is None:  # which partners speak to which task: fixed for the run
            partners = [self.model.countries[n] for n in self.spec["consults"]]
            self._pulls = [(t, [p for p in partners if t in p.stated]) for t in self.stance]
            self._pulls = [(t, ps) for t, ps in self._pulls if ps]
        new = dict(self.stance)
        for t, ps in self._pulls:
            new[t] = (1 - mu) * new[t] + mu * sum(p.stance[t] for p in ps) / len(ps)
        return new


def _terms(terms: dict) -> str:
    return ", ".join(f"{k} {v:+.2f}" for k, v in terms.items())


class Contributor(Country):
    """A potential troop, trainer, logistics or funding contributor."""

    def __init__(self, model, name: str, spec: dict):
        super().__init__(model, name, spec)
        self.pledge = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
        self.offered = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)  # before any shrinking
        self.pledged_round: int | None = None
        self.invited_round: int | None = None
        self.objections: tuple[str, ...] = ()
        self.shrunk = False
        self.refresh()

    def refresh(self) -> None:
        """Recompute what depends only on parameters (after an event may have changed them)."""
        w, s = self.model.weights, self.spec
        self.motive_term = sum(w[k] * s["motives"][k] for k in MOTIVES)
        self.exposed = any(s["capacity"][k] > 0 for k in IN_GAZA)
        c = s["conditions"]
        self.has_conditions = bool(c["un_mandate"] or c["min_clarity"] > 0 or c["min_partners"]
                                   > 0 or c["min_troops_committed"] > 0 or c["partners"]
                                   or c["min_ceasefire"] > 0)

    # ---------------------------------------------------------------- rules

    def unmet_conditions(self, view: View) -> list[str]:
        """Conditions for joining (assurance thresholds; Granovetter 1978; Tago on UN backing).

        Parameters: `conditions.un_mandate`, `min_clarity`, `min_partners`,
        `min_troops_committed`, `partners`, `min_ceasefire`. All must hold; returns a readable
        line for each that does not.
        """
        if not self.has_conditions:
            return []
        c = self.spec["conditions"]
        say = self.model.tracing  # the readable text is built only for a trace
        unmet = []
        if c["un_mandate"] and not view.un_authorised:
            unmet.append("no Security Council backing")
        if view.clarity < c["min_clarity"]:
            unmet.append(f"mandate clarity {view.clarity:.2f} < {c['min_clarity']:.2f} required"
                         if say else "clarity")
        own = self.name in view.committed
        if c["min_partners"] > 0:
            partners = len(view.committed) - own
            if partners < c["min_partners"]:
                unmet.append(f"{partners} partners committed < {c['min_partners']:g} required"
                             if say else "partners")
        if c["min_troops_committed"] > 0:
            troops = view.total_troops - (view.committed_troops[self.name] if own else 0.0)
            if troops < c["min_troops_committed"]:
                unmet.append(f"{troops:,.0f} troops committed by others < "
                             f"{c['min_troops_committed']:,.0f} required" if say else "troops")
        missing = [p for p in c["partners"] if p not in view.committed]
        if missing:
            unmet.append("waiting for " + ", ".join(missing) + " to commit")
        if view.ceasefire < c["min_ceasefire"]:
            unmet.append(f"ceasefire {view.ceasefire:.2f} < {c['min_ceasefire']:.2f} required"
                         if say else "ceasefire")
        return unmet

    def red_lines(self, mandate) -> list[str]:
        """Tasks in the mandate the country will not serve under (stance <= `weights.red_line`)."""
        line = self.model.weights["red_line"]
        return [t for t in mandate if self.stance[t] <= line]

    def utility(self, view: View, explain: bool = True) -> tuple[float, dict | None]:
        """Net utility of pledging (troop-contribution determinants; Bove & Elia 2011).

        U = willingness + sum_k w_k * motive_k + w_fit * mean stance on the mandate's tasks
            + w_spill * min(1, troops committed by others / target)      (Gaibulloev et al.)
            + incentive * us_ties                                        (Passmore et al.)
            - casualty_aversion * risk(mandate)                          (Bove & Elia)
        The risk term applies only to a country whose capacity puts troops or logistics
        personnel inside Gaza; funding and police training (done outside Gaza) carry none.
        Returns U and, if `explain`, its terms (for the trace).
        """
        w, s = self.model.weights, self.spec
        mandate = view.mandate
        stance = self.stance
        fit = sum([stance[t] for t in mandate]) / len(mandate) if mandate else 0.0
        others = view.total_troops - view.committed_troops.get(self.name, 0.0)
        share = min(1.0, others / view.target) if view.target > 0 else 1.0
        terms = (s["willingness"], self.motive_term, w["mandate_fit"] * fit,
                 w["spillover"] * share, view.incentive * s["motives"]["us_ties"],
                 -s["casualty_aversion"] * view.risk if self.exposed else 0.0)
        u = terms[0] + terms[1] + terms[2] + terms[3] + terms[4] + terms[5]
        if not explain:
            return u, None
        return u, dict(zip(("willingness", "motives", "mandate_fit", "spillover", "incentive",
                            "risk"), terms, strict=True))

    def decide(self, view: View) -> None:
        """Pledge, hold, or withdraw, given the mandate on the table.

        An open country pledges its full capacity when (1) every condition holds, (2) no task
        of the mandate is a red line, and (3) U + e > 0 with e ~ Normal(0, `decision_noise`)
        drawn afresh each round. A committed country keeps its pledge unless a condition
        fails or a red line appears (then it withdraws).
        """
        m = self.model
        if self.status in (PLEDGED, APPROVED, VETOED):
            unmet = self.unmet_conditions(view)
            lines = self.red_lines(view.mandate)
            if unmet or lines:
                self.objections = tuple(lines)
                self._withdraw(CONDITIONS_UNMET if unmet else DECLINED_MANDATE,
                               unmet or [f"red line: {', '.join(lines)}"])
            return
        if self.status not in OPEN:
            return
        unmet = self.unmet_conditions(view)
        if unmet:
            self.status = CONDITIONS_UNMET
            if m.tracing:
                self._log("conditions unmet: " + "; ".join(unmet))
            return
        lines = self.red_lines(view.mandate)
        self.objections = tuple(lines)
        if lines:
            self.status = DECLINED_MANDATE
            if m.tracing:
                self._log("declines over the mandate; red line: " + ", ".join(
                    f"{m.task_label(t)} (stance {self.stance[t]:+.2f})" for t in lines))
            return
        u, terms = self.utility(view, explain=m.tracing)
        noise = m.weights["decision_noise"] * m.draws["noise"][m.round - 1][self.index]
        if u + noise <= 0:
            self.status = UNWILLING
            if m.tracing:
                self._log(f"not willing: utility {u:+.2f} + noise {noise:+.2f} <= 0 "
                          f"({_terms(terms)})", utility=u, noise=noise, terms=terms)
            return
        cap = self.spec["capacity"]
        self.offered = {k: float(round(cap[k])) if k != "funding" else cap[k]
                        for k in CONTRIBUTION_TYPES}
        self.pledge = dict(self.offered)
        self.pledged_round = m.round
        self.shrunk = False
        self.status = PLEDGED
        if m.tracing:
            conds = self.stated_conditions()
            self._log(f"pledges {m.describe_pledge(self.pledge)}; utility {u:+.2f} + noise "
                      f"{noise:+.2f} > 0 ({_terms(terms)})"
                      + (f"; conditions: {conds}" if conds else ""),
                      utility=u, noise=noise, terms=terms, pledge=dict(self.pledge))

    def ratify(self) -> None:
        """Level II ratification of a pledge (two-level game; Putnam 1988).

        Parameters (`domestic`): `rejected_tasks` block the pledge outright when in the
        mandate. Otherwise each body in `ratification` approves with probability
        1 - opposition_strength * opposition_share * backlash, with
        backlash = max(0, alignment(mandate) - alignment_tolerance) / (1 - alignment_tolerance);
        all must approve. The vote comes `delay_rounds` after the pledge. On failure the pledge
        is withdrawn (`on_failure: withdraw`) or shrunk to `shrink_factor` and carried
        (`shrink`). A country without a `domestic` block ratifies at once.
        """
        if self.status != PLEDGED:
            return
        m = self.model
        dom = self.spec["domestic"]
        if dom is None:
            self.status = RATIFIED
            return
        if m.round < self.pledged_round + dom["delay_rounds"]:
            return
        rejected = [t for t in m.mandate if t in dom["rejected_tasks"]]
        if rejected:
            m.domestic_blocks += 1
            self._withdraw(BLOCKED_AT_HOME, [
                "the domestic audience rejects " + ", ".join(map(m.task_label, rejected))])
            return
        align = m.alignment()
        tol = dom["alignment_tolerance"]
        backlash = max(0.0, align - tol) / (1 - tol) if tol < 1 else 0.0
        backlash = min(backlash, 1.0)
        votes = []
        passed = True
        draws = m.draws["vote"][m.round - 1, self.index].tolist()
        for i, body in enumerate(dom["ratification"]):
            p = 1 - dom["opposition_strength"] * body["opposition_share"] * backlash
            draw = draws[i]
            ok = draw < p
            votes.append((body["body"], ok, p, draw))
            if not ok:
                passed = False
                break
        why = (f"perceived alignment {align:.2f} vs tolerance {tol:.2f}, backlash {backlash:.2f}, "
               f"opposition {dom['opposition_strength']:.2f}: " + "; ".join(
                   f"{b} {'approves' if ok else 'refuses'} (P(approve) {p:.2f}, draw {d:.2f})"
                   for b, ok, p, d in votes)) if m.tracing else ""
        if passed:
            self.status = RATIFIED
            m.log("ratify", self.name, "ratified at home: " + why, passed=True)
            return
        m.domestic_blocks += 1
        if dom["on_failure"] == "shrink":
            k = dom["shrink_factor"]
            self.pledge = {t: (round(v * k) if t != "funding" else v * k)
                           for t, v in self.pledge.items()}
            self.shrunk = True
            self.status = RATIFIED
            m.log("ratify", self.name, f"ratification failed, pledge shrunk to "
                  f"{m.describe_pledge(self.pledge)}: " + why, passed=False, shrunk=True)
        else:
            self._withdraw(BLOCKED_AT_HOME, ["ratification failed: " + why])

    def stated_conditions(self) -> str:
        c = self.spec["conditions"]
        parts = []
        if c["un_mandate"]:
            parts.append("Security Council backing")
        if c["min_clarity"] > 0:
            parts.append(f"clarity >= {c['min_clarity']:.2f}")
        if c["min_partners"] > 0:
            parts.append(f">= {c['min_partners']:g} partners")
        if c["min_troops_committed"] > 0:
            parts.append(f">= {c['min_troops_committed']:,.0f} troops from others")
        if c["partners"]:
            parts.append("with " + ", ".join(c["partners"]))
        if c["min_ceasefire"] > 0:
            parts.append(f"ceasefire >= {c['min_ceasefire']:.2f}")
        return "; ".join(parts)

    @property
    def needs_approval(self) -> bool:
        return any(self.pledge[k] > 0 for k in IN_GAZA)

    # ---------------------------------------------------------------- helpers

    def _log(self, text, **data):
        self.model.log("decide", self.name, text, status=self.status, **data)

    def _withdraw(self, status, reasons):
        m = self.model
        m.withdrawals += 1
        self.status = status
        self.pledge = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
        if m.tracing:
            m.log("withdraw", self.name, "withdraws its pledge: " + "; ".join(reasons),
                  status=status)


class Convener(mesa.Agent):
    """The agenda setter (US / Board of Peace): invites, proposes the mandate, presses Israel."""

    def __init__(self, model, spec: dict):
        super().__init__(model)
        self.spec = spec
        self.clarity = spec["clarity"]
        self.pressure = spec["pressure"]
        self.incentive = 0.0
        self.short_rounds = 0
        self.reserves_invited = False

    def propose(self) -> None:
        """Invite, answer questions, press, offer incentives and revise the mandate.

        Round 1: invite `invite`. Later rounds: clarity rises by `clarity_step`; pressure on
        Israel rises by `pressure_step` (to `max_pressure`) if Israel vetoed a contingent or the
        mandate in the last round; the incentive rises by `incentive_step` (to `max_incentive`)
        while the force is short; after `reserve_after` short rounds the `reserve` states are
        invited; and with probability `concession_prob` the convener drops the contested task
        (not in `core_tasks`) that keeps the most troop capacity away (agenda setting; Tsebelis).
        """
        m, s = self.model, self.spec
        if m.round == 1:
            m.invite(s["invite"])
            m.log("propose", s["name"], "opens the talks: mandate " + m.describe_mandate()
                  + f"; clarity {self.clarity:.2f}; pressure on Israel {self.pressure:.2f}")
            return
        self.clarity = min(1.0, self.clarity + s["clarity_step"])
        if m.israel.vetoed_last_round or not m.israel.mandate_accepted:
            self.pressure = min(s["max_pressure"], self.pressure + s["pressure_step"])
        if m.short:
            self.short_rounds += 1
            self.incentive = min(s["max_incentive"], self.incentive + s["incentive_step"])
        if self.short_rounds >= s["reserve_after"] and not self.reserves_invited and s["reserve"]:
            self.reserves_invited = True
            m.invite(s["reserve"])
        self.concede()
        if m.tracing:
            m.log("propose", s["name"], f"mandate {m.describe_mandate()}; clarity "
                  f"{self.clarity:.2f}; pressure on Israel {self.pressure:.2f}; incentive "
                  f"{self.incentive:.2f}", clarity=self.clarity, pressure=self.pressure,
                  incentive=self.incentive, mandate=list(m.mandate))

    def concede(self) -> None:
        """Drop the contested non-core task that keeps the most troop capacity away."""
        m, s = self.model, self.spec
        weight: dict[str, float] = {}
        who: dict[str, list[str]] = {}
        for c in m.contributors:
            if c.status == DECLINED_MANDATE:
                for t in c.objections:
                    if t in m.mandate and t not in s["core_tasks"]:
                        weight[t] = weight.get(t, 0.0) + c.spec["capacity"]["troops"]
                        who.setdefault(t, []).append(c.name)
        if not weight or s["concession_prob"] == 0:
            return
        draw = m.draws["concede"][m.round - 1]
        # the most troops kept away; then the most states; then the task listed first
        task = max(weight, key=lambda t: (weight[t], len(who[t]), -m.task_names.index(t)))
        if draw < s["concession_prob"]:
            m.mandate = tuple(t for t in m.mandate if t != task)
            m.concessions += 1
            m.log("concede", s["name"], f"drops {m.task_label(task)} from the mandate to win "
                  f"back {', '.join(who[task])} ({weight[task]:,.0f} troops' capacity; "
                  f"P {s['concession_prob']:.2f}, draw {draw:.2f})", task=task)


class Israel(mesa.Agent):
    """The veto player over national contingents and, through its demands, over the mandate."""

    name = "Israel"

    def __init__(self, model, spec: dict):
        super().__init__(model)
        self.spec = spec
        self.mandate_accepted = True
        self.vetoed_last_round = False

    def threat(self, country: Contributor) -> float:
        """Threat score: `threat[country]` (or `default_threat`), plus `no_relations_penalty`
        for a state without diplomatic relations, capped at 1."""
        s = self.spec
        base = s["threat"].get(country.name, s["default_threat"])
        if not country.spec["relations_with_israel"]:
            base += s["no_relations_penalty"]
        return min(1.0, base)

    def threshold(self) -> float:
        """threshold + pressure_effect * pressure, less `missing_task_penalty` while a task
        Israel requires is missing from the mandate."""
        s, m = self.spec, self.model
        t = s["threshold"] + s["pressure_effect"] * m.convener.pressure
        if any(r not in m.mandate for r in s["required_tasks"]):
            t -= s["missing_task_penalty"]
        return t

    def approve(self, country: Contributor) -> tuple[bool, str]:
        """Veto over participants (Tsebelis): reject a contingent whose threat score exceeds the
        effective threshold, or, with `reject_without_relations`, any state without relations."""
        if self.spec["reject_without_relations"] and not country.spec["relations_with_israel"]:
            return False, "no diplomatic relations with Israel (hard line: rejected whatever " \
                          "the pressure)"
        th, tau = self.threat(country), self.threshold()
        if not self.model.tracing:
            return th <= tau, ""
        s = self.spec
        base = s["threat"].get(country.name, s["default_threat"])
        parts = f"threat {th:.2f} (stated {base:.2f}"
        if not country.spec["relations_with_israel"] and s["no_relations_penalty"]:
            parts += f" + {s['no_relations_penalty']:.2f} no relations"
        parts += (f") vs threshold {tau:.2f} (base {s['threshold']:.2f} + "
                  f"{s['pressure_effect']:.2f} x pressure {self.model.convener.pressure:.2f}")
        if any(r not in self.model.mandate for r in s["required_tasks"]):
            parts += f" - {s['missing_task_penalty']:.2f} missing required task"
        parts += ")"
        return th <= tau, parts

    def accepts_mandate(self) -> tuple[bool, str]:
        """Israel accepts a mandate with all its `required_tasks`, or one without them once the
        convener's pressure reaches `mandate_pressure_threshold`."""
        m, s = self.model, self.spec
        missing = [t for t in s["required_tasks"] if t not in m.mandate]
        if not missing:
            return True, "it contains every task Israel requires"
        p, need = m.convener.pressure, s["mandate_pressure_threshold"]
        if not m.tracing:
            return p >= need, ""
        names = ", ".join(map(m.task_label, missing))
        if p >= need:
            return True, f"{names} missing, but pressure {p:.2f} >= {need:.2f}"
        return False, f"{names} missing and pressure {p:.2f} < {need:.2f}"

    def review(self) -> None:
        """Review every ratified or previously vetoed contingent, then the mandate."""
        m = self.model
        self.vetoed_last_round = False
        for c in m.contributors:
            if c.status not in (RATIFIED, VETOED):
                continue
            if not c.needs_approval:
                c.status = APPROVED
                if m.tracing:
                    m.log("approve", self.name, f"{c.name}'s pledge sends no one into Gaza: "
                          "no approval needed", country=c.name)
                continue
            ok, why = self.approve(c)
            if ok:
                was = c.status
                c.status = APPROVED
                m.log("approve", self.name, f"approves {c.name}"
                      + (" (reconsidered after rejecting it)" if was == VETOED else "")
                      + f": {why}", country=c.name, approved=True)
            else:
                self.vetoed_last_round = True
                if c.status != VETOED:
                    m.vetoes += 1
                    c.status = VETOED
                    m.log("veto", self.name, f"rejects {c.name}: {why}",
                          country=c.name, approved=False)
        ok, why = self.accepts_mandate()
        if ok != self.mandate_accepted or m.round == 1:
            m.log("mandate", self.name, ("accepts" if ok else "rejects") + " the mandate: " + why,
                  accepted=ok)
        self.mandate_accepted = ok
