"""The guard holes of issue 17 (item 5), closed: every draft the fault-injecting server got
through to report.html now fails, and the statements the rules and the template writer make
still pass. Drafts use short references, as a prompt gives them."""

from __future__ import annotations

import pytest

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.metrics.registry import METRICS
from reportgen.narrative.guard import GUARD_PHRASES, GuardContext, check_text, data_names
from tests.narrative.run_data import fid, make_findings

PAIR = {"model": "partnet vs cleannet", "method": "gradcam", "class": "fish",
        "region": "background"}
REFS = {
    "fish": fid("pqah.precision.q2", "fish"),            # 71 %
    "bird": fid("pqah.precision.q2", "bird"),            # 25 %
    "all": fid("pqah.precision.q2"),                     # 45 %
    "fish_n": fid("pqah.precision.n", "fish"),           # 20
    "fish_ph_n": fid("pqah.ph.n", "fish"),               # 20
    "fish_ph": fid("pqah.ph.q2", "fish"),                # 0.60
    "body": fid("pqah.ph.q2", "bird", "body"),           # 0.55
    "head": fid("pqah.ph.q2", "bird", "head"),           # 0.40
    "all_head": fid("pqah.ph.q2", "all", "head"),        # 0.35
    "all_n": fid("pqah.precision.n"),                    # 40
    "tail_share": fid("pqah.precision.q2", "bird", "tail"),  # 8 %
    "tail_area": fid("region.area_share.q2", "bird", "tail"),
    "scored": "run.samples.scored", "total": "run.samples.total",
    "excluded": "run.samples.excluded",
    "centre": fid("pqah.precision.q2", model="baseline", method="center"),     # 30 %
    "centre_head": fid("pqah.ph.q2", region="head", model="baseline", method="center"),
    "random_head": fid("pqah.ph.q2", region="head", model="baseline", method="random"),
    "clean": fid("pqah.precision.q2", "fish", model="cleannet"),              # 31 %
    "diff": "paired.precision.median_difference|" + "|".join(f"{k}={v}" for k, v in
                                                             PAIR.items()),
    "lo": "paired.precision.ci_low|" + "|".join(f"{k}={v}" for k, v in PAIR.items()),
    "hi": "paired.precision.ci_high|" + "|".join(f"{k}={v}" for k, v in PAIR.items()),
    "pf": "paired.precision.p_holm|" + "|".join(f"{k}={v}" for k, v in PAIR.items()),
    "pair_n": "paired.precision.n|" + "|".join(f"{k}={v}" for k, v in PAIR.items()),
    "road": fid("road.combined.q2", region="object"),
    "body_n": fid("pqah.ph.n", "bird", "body"),          # 20
}


def extend(facts: FactTable) -> tuple[FactTable, list[Finding], list[Finding]]:
    """The conftest run plus baselines, a second model, a paired difference and ROAD."""
    dims = {"model": "partnet", "method": "gradcam"}
    facts.add_value("region.area_share.q2", 0.2, 20, "share", "neither", **dims,
                    region="tail", **{"class": "bird"})
    for method, share, ph in (("center", 0.30, 0.30), ("random", 0.28, 0.10)):
        facts.add_value("pqah.precision.q2", share, 40, "share", "higher", model="baseline",
                        method=method, region="background", **{"class": "all"})
        facts.add_value("pqah.ph.q2", ph, 40, "fraction", "higher", model="baseline",
                        method=method, region="head", **{"class": "all"})
    facts.add_value("pqah.precision.q2", 0.31, 20, "share", "higher", model="cleannet",
                    method="gradcam", region="background", **{"class": "fish"})
    for stat, value, unit in (("median_difference", 0.40, "share"), ("ci_low", 0.30, "share"),
                              ("ci_high", 0.50, "share"), ("p_holm", 0.0004, "p-value"),
                              ("n", 50, "count")):
        facts.add_value(f"paired.precision.{stat}", value, 50, unit, "neither", **PAIR)
    facts.add_value("road.combined.q2", -0.1, 32, "fraction", "higher", **dims,
                    region="object", **{"class": "all"})
    shortcut = make_findings()[0]
    difference = Finding(
        "model_difference|fish", "model_difference", "high",
        {**PAIR}, "partnet puts more of its fish heat on the background than cleannet.",
        [REFS[k] for k in ("diff", "lo", "hi", "pf", "pair_n")], 0.4)
    unfaithful = Finding("faithfulness_caveat|partnet", "faithfulness_caveat", "high",
                         dims, "partnet's gradcam heatmaps fail the ROAD check.",
                         [REFS["road"]], 0.1)
    return facts, [shortcut, difference], [unfaithful]


@pytest.fixture()
def ctx(facts) -> GuardContext:
    table, required, high = extend(facts)
    assert all(fid in table for fid in REFS.values())
    names = data_names(table, [m.name for m in METRICS.values()])
    return GuardContext(table, REFS, required, names, min_facts=1, high_findings=high)


# Cites both required findings by their main facts, with their direction.
BASE = ("Class fish puts {{fact:fish}} of its heat on the background; on the same images "
        "partnet puts more of its fish heat on the background than cleannet ({{fact:diff}}).")

# Accepted before, each reached report.html and model_card.md: appended to BASE.
HOLES = {
    "an ASCII Roman numeral": ("The fish put XCIV of their heat on the background.",
                               "number word 'XCIV'"),
    "a glued number word": ("The fish put ninetyfour parts of their heat on the background.",
                            "number word 'ninetyfour'"),
    "a misspelt number word": ("Fourty images of fish were looked at.", "number word 'Fourty'"),
    "a misspelt compound": ("Fourty-five images of fish were looked at.",
                            "number word 'Fourty-five'"),
    "Spanish number words": ("The fish put noventa y cuatro por ciento of their heat on the "
                             "background.", "number word 'noventa'"),
    "German number words": ("The fish put vierundneunzig Prozent of their heat on the "
                            "background.", "number word 'vierundneunzig'"),
    "full-width letters": ("The fish put ｎｉｎｅｔｙ parts of their heat on the background.",
                           "number word"),
    "a zero-width space in a number word": ("The fish put nine\u200bty parts of their heat "
                                            "on the background.", "invisible formatting"),
    "a full-width percent sign": ("The fish's share is high ％.", "percentage"),
    "per mille": ("The fish put several per mille of their heat elsewhere.",
                  "number word 'per mille'"),
    "a handful": ("A handful of images were left aside.", "number word 'handful'"),
    "'a majority' the fact does not support": ("A majority of the bird's heat falls on the "
                                               "background ({{fact:bird}}).",
                                               "'majority' claims a proportion"),
    "'nearly all' the fact does not support": ("Nearly all of the fish's heat falls on the "
                                               "background ({{fact:fish}}).",
                                               "'nearly all' claims a proportion"),
    "'most' without a fact": ("Most heat of the birds falls on the background.",
                              "'most' claims a proportion"),
    "'most' the fact contradicts": ("Most of the bird's heat is on the background "
                                    "({{fact:bird}}).", "'most' claims a proportion"),
    "a PH value cited as a heat share": ("For the fish, {{fact:fish_ph}} of the heat falls on "
                                         "the background.", "not a heat share"),
    "a heat share cited as a PH": ("The fish's PH is {{fact:fish}}.",
                                   "not a value of the metric pqah.ph"),
    "a pair count cited as images scored": ("Only {{fact:pair_n}} images were scored.",
                                            "not a number of scored images"),
    "the scored count cited as excluded": ("{{fact:scored}} images were excluded.",
                                           "not a number of excluded images"),
    "a share cited as n": ("The fish share is high (n = {{fact:fish}}).", "not a count"),
    "a centre-baseline fact cited as the model's": ("partnet puts {{fact:centre}} of its heat "
                                                    "on the background.",
                                                    "gives it to model partnet"),
    "a centre-baseline fact called the random baseline's": (
        "The random baseline puts {{fact:centre}} of its heat on the background.",
        "is the center baseline's"),
    "a fact of another class": ("For class bird, a median {{fact:fish}} of the heat falls on "
                                "the background.", "is about class fish"),
    "a fact of another model": ("cleannet puts {{fact:all}} of its heat on the background.",
                                "is about model partnet"),
    "a pooled fact given to a class": ("For class bird, a median {{fact:all}} of the heat "
                                       "falls on the background.", "pooled over all classes"),
    "a contradicting comparison with the facts after 'than'": (
        "The birds put more heat on the background than the fish ({{fact:bird}} against "
        "{{fact:fish}}).", "'more' relating bird and fish contradicts the facts"),
    "a contradicting comparison with the facts first": (
        "With {{fact:fish}} against {{fact:bird}}, the birds put more heat on the background "
        "than the fish.", "'more' relating bird and fish contradicts the facts"),
    "isn't higher": ("The fish's share ({{fact:fish}}) isn't higher than the bird's "
                     "({{fact:bird}}).", "not 'higher' relating fish and bird contradicts"),
    "doesn't exceed": ("The fish's share ({{fact:fish}}) doesn't exceed the bird's "
                       "({{fact:bird}}).", "not 'exceed' relating fish and bird contradicts"),
    "not in any way higher": ("The fish's share ({{fact:fish}}) is not in any way higher than "
                              "the bird's ({{fact:bird}}).",
                              "not 'higher' relating fish and bird contradicts"),
    "dwarfs": ("The bird's share ({{fact:bird}}) dwarfs the fish's ({{fact:fish}}).",
               "'dwarfs' relating bird and fish contradicts"),
    "a placeholder after a minus": ("The change is -{{fact:fish}}.", "placeholder glued"),
    "two adjacent placeholders": ("{{fact:scored}}{{fact:excluded}} images were looked at.",
                                  "placeholder glued"),
    "two placeholders around a point": ("The PH is {{fact:body}}.{{fact:head}} overall.",
                                        "placeholder glued"),
    "a placeholder before k": ("{{fact:scored}}k images were looked at.", "placeholder glued"),
    "a full-width percent after a placeholder": ("The fish get {{fact:fish}}％ of the heat.",
                                                 "percentage"),
    "no bias while a high shortcut exists": ("The model shows no bias and can be trusted.",
                                             "denies the high-severity finding "
                                             "'class_shortcut|fish'"),
    "the shortcut negated": ("The model does not use the background as a shortcut "
                             "({{fact:fish}}, {{fact:bird}}).",
                             "denies the high-severity finding 'class_shortcut|fish'"),
    "the main fact under a negation": ("Class fish does not put {{fact:fish}} of its heat on "
                                       "the background.", "under a negation"),
    "the models said not to differ": ("partnet and cleannet do not differ on the fish "
                                      "background.",
                                      "denies the high-severity finding 'model_difference"),
    "unfaithful heatmaps called faithful": ("The heatmaps are faithful.",
                                            "denies the high-severity finding "
                                            "'faithfulness_caveat"),
    "a quotation of the guard's reasons": ("I fixed it: omits the high-severity finding.",
                                           "quotes the guard's messages"),
}


@pytest.mark.parametrize("case", HOLES)
def test_each_hole_is_closed(case, ctx):
    sentence, reason = HOLES[case]
    result = check_text(f"{BASE} {sentence}", ctx)
    assert not result.ok and result.text == ""
    assert any(reason in r for r in result.reasons), result.reasons


# Whole drafts: what the required findings must get.
DRAFTS = {
    "the shortcut only through its n": (
        "Class fish has {{fact:fish_n}} images; partnet puts more of its fish heat on the "
        "background than cleannet ({{fact:diff}}).",
        "omits the high-severity finding 'class_shortcut|fish': cite its main fact fish"),
    "the difference only through its pair count": (
        "Class fish puts {{fact:fish}} of its heat on the background; partnet and cleannet "
        "were compared on {{fact:pair_n}} images.",
        "omits the high-severity finding 'model_difference|fish'"),
    "the difference turned round": (
        "Class fish puts {{fact:fish}} of its heat on the background; partnet puts less of "
        "its fish heat on the background than cleannet ({{fact:diff}}).",
        "says partnet has less than cleannet"),
    "the difference turned round, named the other way": (
        "Class fish puts {{fact:fish}} of its heat on the background; cleannet puts more of "
        "its fish heat on the background than partnet ({{fact:diff}}).",
        "says cleannet has more than partnet"),
}


@pytest.mark.parametrize("case", DRAFTS)
def test_required_findings_are_cited_by_their_main_fact_with_their_polarity(case, ctx):
    text, reason = DRAFTS[case]
    result = check_text(text, ctx)
    assert not result.ok
    assert any(reason in r for r in result.reasons), result.reasons


# The rules' and the template writer's own sentences (and plain rewrites) still pass.
GOOD = [
    # background_reliance with the centre baseline
    "partnet with gradcam: a median {{fact:all}} of the heat falls on the background (n = "
    "{{fact:all_n}} images), more than the {{fact:centre}} of a centred Gaussian baseline.",
    # class_shortcut
    "When partnet's gradcam heatmaps explain class fish, a median {{fact:fish}} of the heat "
    "falls on the background (n = {{fact:fish_n}}), against {{fact:bird}} for class bird: "
    "the model may use the background as a shortcut for fish.",
    # model_difference and its remedy
    "For class fish, on the same images, partnet (gradcam) puts more of its heat on the "
    "background than cleannet (median difference in heat share {{fact:diff}}, confidence "
    "interval {{fact:lo}} to {{fact:hi}}, Holm-adjusted p {{fact:pf}}, n = {{fact:pair_n}} "
    "images).",
    "For class fish, cleannet puts less of its heat on the background than partnet on the "
    "same images (median difference {{fact:diff}}): prefer cleannet's training recipe.",
    # above_chance, both ways
    "partnet's gradcam heat attends to the head above chance: median PH {{fact:all_head}} "
    "against the baselines' {{fact:centre_head}} (center) and {{fact:random_head}} (random).",
    "partnet's gradcam heat on the head (median PH {{fact:all_head}}) does not beat both "
    "baselines ({{fact:centre_head}} (center) and {{fact:random_head}} (random)); do not read "
    "it as attention to the head.",
    # neglected_part, faithfulness_caveat, dominant_part
    "For class bird, the tail covers a median {{fact:tail_area}} of the image but receives "
    "only {{fact:tail_share}} of partnet's gradcam heat.",
    "partnet's gradcam heatmaps fail the ROAD faithfulness check (median combined score "
    "{{fact:road}}): findings built on them are marked as uncertain.",
    "For class bird, partnet's gradcam heat overlaps most with the body (median PH "
    "{{fact:body}}, n = {{fact:body_n}}).",
    # the template writer's limitations and remedy
    "The analysis rests on {{fact:scored}} scored images out of {{fact:total}}; "
    "{{fact:excluded}} were excluded, each with its reason in the exclusions table. The "
    "smallest group, class fish, has {{fact:fish_ph_n}} images. A heatmap shows where an "
    "explanation method puts weight, which is not proof of what the model uses, and PH only "
    "measures overlap with the annotated parts.",
    "Retrain it with background randomisation: use the part labels to replace the "
    "backgrounds of the training images with random ones, so that no background cue stays "
    "correlated with fish.",
    # rewrites an LLM may write
    "Most of the fish's heat falls on the background ({{fact:fish}}).",
    "The birds put less heat on the background than the fish ({{fact:bird}} against "
    "{{fact:fish}}).",
    "The centred baseline's {{fact:centre}} is below partnet's {{fact:all}}.",
    "For birds, the model does not rely on the background ({{fact:bird}}).",
    "The fish's heat isn't on the fish but on the background ({{fact:fish}}).",
    "Compared with cleannet ({{fact:clean}}), partnet puts more of the fish's heat on the "
    "background ({{fact:fish}}).",
    "The bird's share ({{fact:bird}}) isn't higher than the fish's ({{fact:fish}}).",
]


@pytest.mark.parametrize("text", GOOD)
def test_the_rules_and_template_sentences_still_pass(text, ctx):
    result = check_text(f"{BASE} {text}", ctx)
    assert result.ok, result.reasons


def test_a_huge_paragraph_is_rejected_before_the_other_checks(ctx):
    result = check_text(BASE * 5000, ctx)  # about a megabyte
    assert not result.ok and len(result.reasons) == 1
    assert "write 1000 characters at most per paragraph" in result.reasons[0]


def test_too_many_paragraphs_are_rejected(ctx):
    result = check_text("\n\n".join([BASE] * 26), ctx)
    assert not result.ok
    assert any("26 paragraphs: write 4 paragraphs at most" in r for r in result.reasons)


def test_size_limits_are_for_a_prompts_draft_or_as_told(ctx):
    long = " ".join([BASE] * 8)
    assert not check_text(long, ctx).ok
    unlimited = GuardContext(ctx.facts, ctx.aliases, ctx.required, ctx.names,
                             max_paragraphs=0, max_paragraph_chars=0)
    assert check_text(long, unlimited).ok
    no_aliases = GuardContext(ctx.facts, {}, (), ctx.names)
    assert check_text("\n\n".join(["The fish look at the background."] * 9), no_aliases).ok


def test_every_reason_is_recognised_when_a_draft_quotes_it(ctx):
    drafts = [f"{BASE} {s}" for s, _ in HOLES.values()] + [t for t, _ in DRAFTS.values()]
    drafts += ["Twice {{fact:v99}} is 5 %.", "The fish <b>rely</b> on {{fact v1}}.", "",
               "\x01" + BASE, "\n\n".join([BASE] * 5)]
    reasons = {r for d in drafts for r in check_text(d, ctx).reasons}
    assert len(reasons) > 40
    for reason in reasons:
        assert any(p in reason.casefold() for p in GUARD_PHRASES), reason
        echoed = check_text(f"{BASE} The checker wrote: {reason.replace('{', '(')}", ctx)
        assert any("quotes the guard's messages" in r for r in echoed.reasons), reason


def test_ordinals_acronyms_and_most_as_a_superlative_are_not_numbers(ctx):
    text = (f"{BASE} First, the CI of the median is wide. The heat overlaps most with the "
            "body ({{fact:body}}) for birds; the body matters the most. I mix the results "
            "with care.")
    result = check_text(text, ctx)
    assert result.ok, result.reasons
