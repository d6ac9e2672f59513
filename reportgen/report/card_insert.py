"""Putting the model card's block into an existing README or model card: the block between
the reportgen markers is inserted or replaced (nothing else changes), and the card's YAML
``model-index`` is merged with ours (results reportgen wrote are replaced, others kept).
Ours are recognised by the fact id each metric carries in ``args``, not by its ``type``."""

from __future__ import annotations

import re
from typing import Any

import yaml

from reportgen.analysis.facts import parse_fact_id
from reportgen.errors import ReportgenError

BEGIN = "<!-- reportgen:begin (written by `reportgen card`; edits inside are replaced) -->"
END = "<!-- reportgen:end -->"
FACT_ARG = "reportgen_fact"  # model-index metric arg holding the fact id behind the value
_BEGIN = re.compile(r"<!--\s*reportgen:begin\b[^\n]*?-->")
_END = re.compile(r"<!--\s*reportgen:end\b[^\n]*?-->")


def dump_front_matter(meta: dict, comment: str = "") -> str:
    return ("---\n" + (f"# {comment}\n" if comment else "")
            + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=4096) + "---\n")


def _split_front_matter(text: str) -> tuple[str, dict | None, str]:
    """(raw front matter with its ``---`` lines, its mapping or None, the rest)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return "", None, text
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            raw = "".join(lines[:i + 1])
            try:
                meta = yaml.safe_load("".join(lines[1:i]))
            except yaml.YAMLError as exc:
                raise ReportgenError(f"the card's YAML front matter is invalid: {exc}") from None
            if meta is None:
                meta = {}
            if not isinstance(meta, dict):
                raise ReportgenError("the card's YAML front matter is not a mapping")
            return raw, meta, "".join(lines[i + 1:])
    raise ReportgenError("the card's YAML front matter has no closing '---' line")


def _block_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the one marked block in ``text``; None when there is none."""
    begins, ends = list(_BEGIN.finditer(text)), list(_END.finditer(text))
    if not begins and not ends:
        return None
    if len(begins) == 1 and len(ends) == 1 and begins[0].end() <= ends[0].start():
        return begins[0].start(), ends[0].end()
    if len(begins) > 1 or len(ends) > 1:
        problem = "more than one reportgen:begin or reportgen:end marker"
    elif not ends:
        problem = "a reportgen:begin marker without a reportgen:end marker"
    elif not begins:
        problem = "a reportgen:end marker without a reportgen:begin marker"
    else:
        problem = "the reportgen:end marker comes before the reportgen:begin marker"
    raise ReportgenError(f"the card has {problem}; fix or remove the markers and run again")


def _names_a_model(text: Any) -> bool:
    """``text`` is a fact id with a model dimension."""
    try:
        return isinstance(text, str) and "model" in parse_fact_id(text).dims
    except ValueError:
        return False


def _is_our_metric(metric: Any) -> bool:
    """A metric reportgen wrote: ``args`` holds a fact id naming a model (or, as cards
    written before the readable slugs have it, the ``type`` is that fact id)."""
    if not isinstance(metric, dict):
        return False
    args = metric.get("args")
    return _names_a_model(args.get(FACT_ARG) if isinstance(args, dict) else None) \
        or _names_a_model(metric.get("type"))


def _is_ours(result: Any) -> bool:
    """A result reportgen wrote: every metric is ours."""
    metrics = result.get("metrics") if isinstance(result, dict) else None
    return bool(metrics) and isinstance(metrics, list) and all(map(_is_our_metric, metrics))


def merge_model_index(existing: Any, ours: list[dict]) -> list:
    """``existing`` model-index with our earlier results removed and ``ours`` added: into the
    entry of the same model name, else (one model into a card about one model) into the
    card's only entry, whatever its name, else as new entries at the end."""
    if existing is None:
        existing = []
    if not isinstance(existing, list):
        raise ReportgenError("the card's model-index is not a list")
    by_name = {e["name"]: e["results"] for e in ours}
    if len(ours) == 1 and len(existing) == 1 and isinstance(existing[0], dict):
        by_name = {existing[0].get("name"): ours[0]["results"]}
    merged: list = []
    for entry in existing:
        if not isinstance(entry, dict) or ("results" not in entry
                                           and entry.get("name") not in by_name):
            merged.append(entry)
            continue
        kept = [r for r in entry.get("results") or [] if not _is_ours(r)]
        results = kept + by_name.pop(entry.get("name"), [])
        # An entry that held only our earlier results goes when they go.
        if results or len(kept) == len(entry.get("results") or []) \
                or set(entry) - {"name", "results"}:
            merged.append({**entry, "results": results})
    merged += [e for e in ours if e["name"] in by_name]
    return merged


def insert_card(existing: str, block: str) -> str:
    """``existing`` (a README or model card) with ``block`` (``build_card``'s output) put in:
    an earlier reportgen block is replaced in place, else the block goes at the end; the
    model-index is merged into the front matter. Text outside the markers keeps its bytes;
    the front matter is rewritten (yaml.safe_dump) only when its model-index changes.
    Idempotent: inserting the same block twice gives the same text."""
    _, ours_meta, ours_body = _split_front_matter(block)
    span = _block_span(ours_body)
    if span is None:
        raise ReportgenError("the card to insert has no reportgen block")
    ours_block = ours_body[span[0]:span[1]]
    raw, meta, body = _split_front_matter(existing)
    span = _block_span(body)
    if span is not None:
        body = body[:span[0]] + ours_block + body[span[1]:]
    else:
        sep = "" if body.endswith("\n\n") else "\n" if body.endswith("\n") or not body else \
            "\n\n"
        body = body + sep + ours_block + "\n"
    index = merge_model_index((meta or {}).get("model-index"),
                              (ours_meta or {}).get("model-index", []))
    if meta is not None and (meta.get("model-index") == index or
                             (not index and "model-index" not in meta)):
        return raw + body
    new_meta = {k: v for k, v in (meta or {}).items() if k != "model-index"}
    new_meta = {**(meta or {}), "model-index": index} if index else new_meta
    front = dump_front_matter(new_meta)
    if meta is None and existing and not existing.startswith(("\n", "\r\n")):
        front += "\n"
    return front + body
