"""The guard on hand-written drafts: numbers only as fact placeholders, comparisons that agree
with the facts, known fact ids, every high-severity finding mentioned."""

from __future__ import annotations

import pytest

from reportgen.narrative.guard import GuardContext, check_text, data_names

# Short references as a prompt gives them (see the conftest's medians).
ALIASES = {
    "v1": "pqah.precision.q2|model=partnet|method=gradcam|class=fish|region=background",  # 71 %
    "v2": "pqah.precision.q2|model=partnet|method=gradcam|class=bird|region=background",  # 25 %
    "v3": "pqah.ph.q2|model=partnet|method=gradcam|class=bird|region=body",               # 0.55
    "v4": "pqah.ph.q2|model=partnet|method=gradcam|class=bird|region=head",               # 0.40
    "v5": "run.samples.scored",                                                           # 40
    "v6": "pqah.ph.iqr|model=partnet|method=gradcam|class=bird|region=body",
}


@pytest.fixture()
def ctx(facts, findings) -> GuardContext:
    table = facts
    table.add_value("pqah.ph.iqr", 0.1, 20, "fraction", "neither", model="partnet",
                    method="gradcam", region="body", **{"class": "bird"})
    return GuardContext(table, ALIASES, [f for f in findings if f.severity == "high"],
                        data_names(table, ["PH (part F1)", "resnet50"]))


def verdict(text: str, ctx: GuardContext):
    return check_text(text, ctx)


GOOD = [
    "For fish, a median {{fact:v1}} of the heat falls on the background, more than the "
    "{{fact:v2}} of the birds.",
    "The fish's background share ({{fact:v1}}) is higher than the bird's ({{fact:v2}}).",
    "The bird's background share {{fact:v2}} is lower than the fish's {{fact:v1}}.",
    "The fish heat on the background ({{fact:v1}}) exceeds the bird's ({{fact:v2}}).",
    "The bird's body has a better PH ({{fact:v3}}) than its head ({{fact:v4}}); the fish's "
    "background gets {{fact:v1}}.",
    "The bird's head ({{fact:v4}}) is not higher than its body ({{fact:v3}}) and the fish's "
    "heat ({{fact:v1}}) is on the background.",
    # Ordinal words that order, and dates without digits, are not claims.
    "First, the fish's heat falls on the background ({{fact:v1}}). Second, on Monday in May "
    "this year we may look again. Finally, the report comes last.",
    # Names may hold digits: a model called resnet50, the metric PH (part F1).
    "Unlike resnet50, the fish model puts {{fact:v1}} of the heat on the background; PH (part "
    "F1) measures the overlap.",
    # Loose spacing inside a placeholder is read as the placeholder.
    "The fish get {{ fact: v1 }} of the heat on the background.",
    # Full ids work as well as the short references.
    "The fish get {{fact:pqah.precision.q2|model=partnet|method=gradcam|class=fish"
    "|region=background}} of the heat on the background.",
    # A comparison with no second fact is not checked.
    "The fish rely more on the background ({{fact:v1}}) than on their own body.",
    "Many images, a majority even, put most heat on the fish's background ({{fact:v1}}).",
]


@pytest.mark.parametrize("text", GOOD)
def test_good_texts_pass(text, ctx):
    result = verdict(text, ctx)
    assert result.ok, result.reasons


BAD = {
    "digits": ("The fish put 71 % of the heat on the background ({{fact:v1}}).", "numeral"),
    "a decimal": ("The fish ({{fact:v1}}) have a PH of 0.60.", "numeral"),
    "a percent sign alone": ("The fish ({{fact:v1}}) put most % on the background.",
                             "percentage"),
    "percent in words": ("Seventy percent of the fish's heat ({{fact:v1}}).", "number word"),
    "a number word": ("The fish ({{fact:v1}}) get seven times the bird's share.",
                      "number word"),
    "twice": ("The fish's share ({{fact:v1}}) is twice the bird's.", "number word"),
    "half": ("Half of the fish's heat ({{fact:v1}}) is on the background.", "number word"),
    "a third": ("A third of the birds' heat is on the background ({{fact:v1}}).",
                "number word"),
    "two thirds": ("Two thirds of the fish's heat ({{fact:v1}}).", "number word"),
    "a dozen": ("A dozen fish ({{fact:v1}}) were excluded.", "number word"),
    "threefold": ("The fish's share ({{fact:v1}}) is a threefold increase.", "number word"),
    "one in": ("One in every fish images ({{fact:v1}}) fails.", "number word"),
    "a date with digits": ("On 12 March the fish ({{fact:v1}}) were scored.", "numeral"),
    "a year": ("Since 2024 the fish ({{fact:v1}}) look at the background.", "numeral"),
    "a fraction sign": ("About ½ of the fish's heat ({{fact:v1}}).", "numeral"),
    "a bare reference": ("The fish's share is v1, see {{fact:v2}}.", "numeral"),
    "an unknown id": ("The fish get {{fact:v99}} of the heat ({{fact:v1}}).",
                      "unknown fact id 'v99'"),
    "an unknown full id": ("The fish get {{fact:pqah.ph.q2|model=nope}} ({{fact:v1}}).",
                           "unknown fact id"),
    "a malformed placeholder": ("The fish get {{fact v1}} ({{fact:v1}}).", "malformed"),
    "a reversed comparison": ("The fish's share ({{fact:v1}}) is lower than the bird's "
                              "({{fact:v2}}).", "contradicts"),
    "a reversed relation": ("The bird's share ({{fact:v2}}) exceeds the fish's ({{fact:v1}}).",
                            "contradicts"),
    "a reversed 'more ... than'": ("The birds put more heat ({{fact:v2}}) on the background "
                                   "than the fish ({{fact:v1}}).", "contradicts"),
    "a reversed 'better'": ("The bird's head ({{fact:v4}}) is better than its body "
                            "({{fact:v3}}), see {{fact:v1}}.", "contradicts"),
    "a false negation": ("The fish's share ({{fact:v1}}) is not higher than the bird's "
                         "({{fact:v2}}).", "contradicts"),
    "different units": ("The fish's share ({{fact:v1}}) is lower than the image count "
                        "({{fact:v5}}).", "different units"),
    "better without a direction": ("The body's spread ({{fact:v6}}) is better than its head's "
                                   "PH ({{fact:v4}}), see {{fact:v1}}.", "better direction"),
    "markup": ("The fish <b>rely</b> on the background ({{fact:v1}}).", "markup"),
    "an omitted high-severity finding": ("The bird's body gets the most heat ({{fact:v3}}).",
                                         "omits the high-severity finding"),
    "an empty text": ("", "empty"),
    "a forged slot": ("The fish get \x000\x00 ({{fact:v1}}).", "control characters"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_texts_are_rejected_with_the_reason(case, ctx):
    text, reason = BAD[case]
    result = verdict(text, ctx)
    assert not result.ok
    assert result.text == ""
    assert any(reason in r for r in result.reasons), result.reasons


def test_accepted_text_has_canonical_placeholders_with_full_ids(ctx):
    result = verdict("The fish get {{ fact: v1 }} of the heat, the birds {{fact:v2}}.", ctx)
    assert result.ok
    assert result.text == ("The fish get {{fact:" + ALIASES["v1"] + "}} of the heat, the birds "
                           "{{fact:" + ALIASES["v2"] + "}}.")
    assert result.fact_ids == (ALIASES["v1"], ALIASES["v2"])


def test_comparison_of_two_facts_shown_as_the_same_value_is_rejected(facts):
    facts.add_value("pqah.ph.q2", 0.551, 20, "fraction", "higher", model="other",
                    method="gradcam", region="body", **{"class": "bird"})
    ctx = GuardContext(facts, {"a": ALIASES["v3"],
                               "b": "pqah.ph.q2|model=other|method=gradcam|class=bird"
                                    "|region=body"})
    result = check_text("The body's PH {{fact:b}} is higher than {{fact:a}}.", ctx)
    assert facts[ctx.aliases["b"]].value > facts[ctx.aliases["a"]].value
    assert not result.ok
    assert "same value" in result.reasons[0]


def test_the_reasons_name_the_short_references(ctx):
    result = verdict("The fish's share ({{fact:v1}}) is lower than the bird's ({{fact:v2}}).",
                     ctx)
    assert "relating v1 and v2" in result.reasons[0]


def test_every_problem_is_reported_at_once(ctx):
    result = verdict("Twice {{fact:v99}} is 5 %.", ctx)
    joined = " ".join(result.reasons)
    for reason in ("unknown fact id", "numeral '5'", "percentage", "number word 'Twice'",
                   "omits the high-severity finding"):
        assert reason in joined


def test_a_name_that_looks_like_a_number_or_an_instruction_is_masked(facts):
    name = "top-5 <b>higher</b> than"
    facts.add_value("pqah.precision.q2", 0.3, 5, "share", "higher", model="partnet",
                    method="gradcam", region="background", **{"class": name})
    ctx = GuardContext(facts, {"v1": ALIASES["v1"], "v2": ALIASES["v1"].replace("fish", name)},
                       names=data_names(facts))
    text = ("Class top-5 <b>higher</b> than the rest: {{fact:v2}} of its heat, next to "
            "{{fact:v1}} for fish.")
    assert check_text(text, ctx).ok
    assert not check_text("The top-6 class gets {{fact:v1}}.", ctx).ok


def test_min_facts_rejects_a_text_that_says_nothing_from_the_data(facts):
    ctx = GuardContext(facts, {"v1": ALIASES["v1"]}, min_facts=1)
    assert not check_text("first paragraph", ctx).ok
    assert check_text("The fish get {{fact:v1}}.", ctx).ok


def test_data_names_are_the_fact_dimensions_longest_first(facts):
    names = data_names(facts, ["PH (part F1)"])
    assert names[0] == "PH (part F1)"
    assert {"partnet", "gradcam", "bird", "fish", "all", "background", "body"} <= set(names)
