"""One LLM call per paragraph: a short prompt, letter-only fact refs and a grammar per call.

The template writer's paragraph stays word for word (it carries the numbers, the names and
the polarity); the model adds a plain-language note after it: what the paragraph means for
someone who relies on the model, and what to do. The note is shaped by a llama.cpp grammar
(GBNF) built for the call:

* ``{"note": "..."}`` with one or two sentences of 4 to ``MAX_WORDS`` words each: ASCII
  letters, spaces, commas and full stops only, so there is no digit, sign or markup to write;
* a fact placeholder is one of the paragraph's own refs (an enum), refs are letters only
  (``{{fact:fa}}``), so there is no digit in the prompt for the model to copy.

Retries send the same prompt with a hint that quotes nothing (not the rejected draft, not the
guard's reasons) and a new seed and temperature.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from string import ascii_lowercase

from reportgen.vocab import PLACEHOLDER, placeholder

MAX_WORDS = 16  # words per sentence of the note (short sentences read easily)
MAX_WORD_LETTERS = 14
MAX_NOTE_SENTENCES = 2
# Shown characters a note may add to its paragraph (two full sentences of long words).
MAX_NOTE_CHARS = MAX_NOTE_SENTENCES * (1 + MAX_WORDS * (MAX_WORD_LETTERS + 2)) + 2
# Temperatures of the first draft and each retry (the seed changes too).
TEMPERATURES = (0.3, 0.7, 0.9, 1.0)
SEED_STEP = 7919

SYSTEM = ("You explain the results of an audit of an image classifier to a manager who has "
          "one minute. You write short, plain sentences in everyday words.")
# What the note should say, per section: the paragraph itself already gives the facts.
ASKS = {
    "summary": "what this means for someone who relies on the model",
    "per_class": "what this says about how the model recognises this class",
    "bias": "why this matters for fairness and trust in the model",
    "recommendations": "why this action helps",
    "limitations": "how far the reader can trust these results",
}
RETRY_HINTS = (
    "Write new sentences in other words. Say what it means, not how much: no amounts, no "
    "counts, no comparisons.",
    "Write one short, simple sentence about what it means for the reader.",
)


def prompt_hash() -> str:
    """sha256 over everything a paragraph prompt is built from besides the data (the system
    text, the asks, the retry hints, the grammar's bounds): the ``prompt_hash`` of a section."""
    parts = [SYSTEM, json.dumps(ASKS, sort_keys=True), *RETRY_HINTS, note_grammar(["fa"]),
             json.dumps(TEMPERATURES), build_paragraph_prompt.__doc__ or ""]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def letter_refs(n: int) -> list[str]:
    """``n`` distinct refs made of letters only: ``fa`` ... ``fz``, ``faa`` ... (no digits)."""
    refs = []
    for i in range(n):
        suffix = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            suffix = ascii_lowercase[r] + suffix
        refs.append("f" + suffix)
    return refs


def note_grammar(refs: Sequence[str]) -> str:
    """The GBNF grammar of one answer, ``{"note": "..."}``: one or two sentences, each a
    capitalised word then 4 to ``MAX_WORDS`` words of lower-case ASCII letters or a
    placeholder of ``refs`` (none: no placeholder), separated by a space or a comma."""
    token = f"[a-z]{{1,{MAX_WORD_LETTERS}}}"
    if refs:
        token += " | ref"
    lines = [
        'root ::= "{\\"note\\": \\"" sentence (" " sentence)? "\\"}"',
        f"sentence ::= [A-Z] [a-z]{{0,{MAX_WORD_LETTERS - 1}}} (sep word){{4,{MAX_WORDS}}} "
        '"."',
        'sep ::= ", " | " "',
        f"word ::= {token}",
    ]
    if refs:
        lines.append('ref ::= "{{fact:" (' + " | ".join(f'"{r}"' for r in refs) + ') "}}"')
    return "\n".join(lines) + "\n"


def note_schema(refs: Sequence[str]) -> dict:
    """The answer's JSON schema (documentation and servers without GBNF): the note is a
    string of letters, spaces, commas, full stops and the refs' placeholders."""
    alternatives = "|".join(re.escape(placeholder(r)) for r in refs)
    body = r"[A-Za-z ,.]" + (f"|{alternatives}" if alternatives else "")
    return {"type": "object", "additionalProperties": False, "required": ["note"],
            "properties": {"note": {"type": "string", "minLength": 20,
                                    "maxLength": MAX_NOTE_CHARS,
                                    "pattern": f"^({body})+$"}}}


@dataclass(frozen=True)
class ParagraphPrompt:
    """One paragraph's call: ``messages`` (system, user), the ``grammar``, and ``aliases``
    (letter ref -> fact id) of the facts the paragraph cites."""

    section: str
    paragraph: str
    messages: tuple[dict, ...]
    grammar: str
    aliases: dict[str, str]

    def attempt(self, attempt: int) -> tuple[dict, ...]:
        """The messages of attempt ``attempt`` (0 first): a retry adds a hint, no quote."""
        if attempt == 0:
            return self.messages
        hint = RETRY_HINTS[min(attempt - 1, len(RETRY_HINTS) - 1)]
        user = dict(self.messages[-1], content=self.messages[-1]["content"] + "\n\n" + hint)
        return (*self.messages[:-1], user)


def sampling(params: dict, attempt: int) -> dict:
    """``params`` for attempt ``attempt``: another seed and a higher temperature per retry."""
    temperature = TEMPERATURES[min(attempt, len(TEMPERATURES) - 1)]
    return {**params, "seed": params["seed"] + SEED_STEP * attempt,
            "temperature": max(params["temperature"], temperature) if attempt else
            params["temperature"]}


def build_paragraph_prompt(section: str, paragraph: str, audience: str) -> ParagraphPrompt:
    """The prompt for one template paragraph (its placeholders hold full fact ids)."""
    ids = list(dict.fromkeys(PLACEHOLDER.findall(paragraph)))
    aliases = dict(zip(letter_refs(len(ids)), ids, strict=True))
    refs = {fid: ref for ref, fid in aliases.items()}
    shown = PLACEHOLDER.sub(lambda m: placeholder(refs[m.group(1)]), paragraph)
    user = (f"Report section: {section.replace('_', ' ')}. Reader: {audience}.\n"
            f"Paragraph: {json.dumps(shown, ensure_ascii=True)}\n\n"
            f"Add one or two short sentences after this paragraph: {ASKS[section]}, and what "
            "to do about it. Use plain everyday words. Do not repeat the paragraph, do not "
            "give amounts and do not say the opposite of it. Answer as JSON: "
            '{"note": "..."}')
    messages = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})
    return ParagraphPrompt(section, paragraph, messages, note_grammar(list(aliases)), aliases)


def parse_note(text: str) -> tuple[str, str | None]:
    """The note of an answer and, when it cannot be used, why (not the JSON asked for, or
    a note that is not one or two sentences)."""
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        return "", "not the JSON object asked for"
    note = data.get("note") if isinstance(data, dict) else None
    if not isinstance(note, str) or not note.strip():
        return "", "no note"
    note = " ".join(note.split())
    if len(note) > MAX_NOTE_CHARS:
        return "", "the note is too long"
    return note, None


def copies(note: str, paragraph: str, share: float = 0.7) -> bool:
    """Whether the note mostly repeats the paragraph: at least ``share`` of its words (three
    letters or more) appear in the paragraph. Such a note adds nothing for the reader."""
    words = [w for w in re.findall(r"[a-z]+", note.lower()) if len(w) >= 3]
    said = set(re.findall(r"[a-z]+", paragraph.lower()))
    return bool(words) and sum(w in said for w in words) >= share * len(words)


# A note may explain its paragraph, not change its tone: a small model that calls a clean
# result "a critical issue", or a confirmed shortcut "nothing to worry about", cries wolf (or
# hides one) in words the number guard cannot see.
ALARM = re.compile(r"\b(critical|serious|severe|alarming|dangerous|danger|bias(?:ed)?|"
                   r"shortcuts?|flaw(?:ed|s)?|problem(?:s|atic)?|issues?|fail(?:s|ure|ed)?|"
                   r"concern(?:s|ing)?|unreliable|untrustworthy|wrong|broken|cheat(?:s|ing)?)\b",
                   re.IGNORECASE)
REASSURANCE = re.compile(r"\b(trustworthy|reliable|safe|fine|harmless|nothing to worry|"
                         r"no (?:problem|issue|concern|bias|shortcut)s?|"
                         r"(?:works|performs) (?:well|correctly))\b", re.IGNORECASE)


def tone_mismatch(note: str, paragraph: str) -> str | None:
    """Why the note's tone contradicts its paragraph (None when it does not): alarm words in a
    note whose paragraph raises no alarm, or reassurance in a note whose paragraph does."""
    alarmed = ALARM.search(paragraph) is not None
    if not alarmed and (m := ALARM.search(note)):
        return f"the note raises an alarm ({m.group(0)!r}) its paragraph does not"
    if alarmed and (m := REASSURANCE.search(note)):
        return f"the note reassures ({m.group(0)!r}) where its paragraph raises an alarm"
    return None
