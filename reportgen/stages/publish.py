"""Publish: write a run's data files into the run directory, each atomically.

scores.parquet, stats.csv, exclusions.csv, facts.json (facts and findings), narrative.json and
gallery.npz: what ``render`` rebuilds the report from without the model.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from reportgen.io import atomic_write, atomic_write_json, atomic_write_text
from reportgen.narrative.narrate import NarrativeResult
from reportgen.scoring.gallery import GalleryCollector
from reportgen.stages.aggregate import Aggregated
from reportgen.stages.find import Found
from reportgen.stages.score import Scored

FACTS_FILE = "facts.json"
NARRATIVE_FILE = "narrative.json"
GALLERY_FILE = "gallery.npz"  # the gallery's thumbnails, heatmaps and part masks


def publish(out_dir: Path, scored: Scored, aggregated: Aggregated, found: Found,
            narrative: NarrativeResult, gallery: GalleryCollector | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = scored.scores
    atomic_write(out_dir / "scores.parquet", lambda p: scores.to_parquet(p, index=False))
    atomic_write_text(out_dir / "stats.csv", aggregated.stats.to_csv(index=False))
    atomic_write_text(out_dir / "exclusions.csv", scored.exclusions.to_csv(index=False))
    atomic_write_json(out_dir / FACTS_FILE, {**found.facts.to_dict(),
                                             "findings": [f.to_dict() for f in found.findings]})
    write_narrative_file(out_dir, narrative)
    if gallery is not None:
        gallery.save(out_dir / GALLERY_FILE)


def write_narrative_file(out_dir: Path, narrative: NarrativeResult) -> None:
    atomic_write_json(Path(out_dir) / NARRATIVE_FILE, [asdict(s) for s in narrative.sections])
