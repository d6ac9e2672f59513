"""The deterministic template writer: plain sentences built from the facts."""

from __future__ import annotations

from reportgen.analysis.facts import Fact, FactTable, fact_id
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.data.sample import BACKGROUND
from reportgen.narrative.placeholders import placeholder, referenced_facts
from reportgen.narrative.section import NarrativeSection


def _region_medians(facts: FactTable, model: str, method: str, cls: str) -> list[Fact]:
    return [f for f in facts
            if f.id.startswith("pqah.ph.q2|") and f.dims.get("model") == model
            and f.dims.get("method") == method and f.dims.get("class") == cls
            and "subset" not in f.dims]


def _name(name: str) -> str:
    """A dataset or model name as plain text: braces could forge a fact placeholder."""
    return name.replace("{", "(").replace("}", ")")


def _phrase(region: str) -> str:
    return "the background" if region == BACKGROUND else f"the {_name(region)}"


class TemplateWriter:
    """Writes the executive summary from PH medians and heat shares; same facts, same text."""

    name = "template"

    def summary(self, facts: FactTable) -> NarrativeSection:
        pairs = sorted({(f.dims["model"], f.dims["method"]) for f in facts
                        if f.id.startswith("pqah.ph.q2|")})
        paragraphs = []
        for model, method in pairs:
            medians = _region_medians(facts, model, method, ALL_CLASSES)
            parts = [f for f in medians if f.dims["region"] != BACKGROUND]
            if not parts:
                continue
            best = max(parts, key=lambda f: (f.value, f.id))
            worst = min(parts, key=lambda f: (f.value, f.id))
            dims = {"model": model, "method": method, "class": ALL_CLASSES}
            n_best = fact_id("pqah.ph.n", **dims, region=best.dims["region"])
            text = (f"For model {_name(model)} explained with {_name(method)}, the heatmaps "
                    f"overlap most with "
                    f"{_phrase(best.dims['region'])} (median PH {placeholder(best.id)}, "
                    f"n = {placeholder(n_best)} images) and least with "
                    f"{_phrase(worst.dims['region'])} (median PH {placeholder(worst.id)}).")
            bg_share = fact_id("pqah.precision.q2", **dims, region=BACKGROUND)
            if bg_share in facts:
                text += (f" A median {placeholder(bg_share)} of each heatmap's heat falls on the "
                         f"background (interquartile range "
                         f"{placeholder(fact_id('pqah.precision.q1', **dims, region=BACKGROUND))}"
                         f" to "
                         f"{placeholder(fact_id('pqah.precision.q3', **dims, region=BACKGROUND))}"
                         f").")
            paragraphs.append(text)
        if not paragraphs:
            paragraphs.append("No sample could be scored, so there is nothing to summarise.")
        text = "\n\n".join(paragraphs)
        return NarrativeSection("summary", "Executive summary", text, self.name,
                                fact_ids=referenced_facts(text))
