"""The run's record (run.json) from what the stages used and produced."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from reportgen.config import RunConfig
from reportgen.narrative.narrate import NarrativeResult
from reportgen.run_record import DatasetInfo, ModelInfo, RunRecord, now, versions
from reportgen.stages.explain import ExplainStage
from reportgen.stages.find import Found
from reportgen.stages.load import RunInputs
from reportgen.stages.score import Scored

PRECOMPUTED_SKIP = ("precomputed heatmaps: there is no model to re-run on the modified images "
                    "these metrics need")


def public_config(config: RunConfig) -> dict:
    """The config for run.json: the LLM server URL without user info or query (either may
    carry a credential; the API key itself is never in the config)."""
    data = config.model_dump(mode="json")
    data["narrative"] = config.narrative.public_dict()
    return data


def run_record(config: RunConfig, inputs: RunInputs, explain: ExplainStage, scored: Scored,
               found: Found, narrative: NarrativeResult) -> RunRecord:
    dataset = inputs.dataset
    counts = scored.counts
    cache = inputs.cache
    return RunRecord(
        title=config.title,
        config=public_config(config),
        config_hash=config.fingerprint(),
        seed=config.seed,
        device=str(inputs.device),
        dataset=DatasetInfo(dataset.name, dataset.format, Path(config.dataset.root).name,
                            inputs.class_names, inputs.part_names),
        models=[m.name for m in inputs.models],
        model_specs=[ModelInfo(m.name, m.spec.arch, m.spec.num_classes,
                               str(m.spec.weights) if m.spec.weights else None,
                               m.target_layer_name, m.reshape_name,
                               m.spec.torchvision_weights, asdict(m.spec.preprocessing))
                     for m in inputs.models],
        methods=list(config.methods),
        versions=versions(),
        created=now(),
        cache={**cache.report().as_dict(), "enabled": cache.enabled, **explain.cache_counts()},
        precomputed_heatmaps=[{"method": h.method, "model": h.model, "path": str(h.path)}
                              for h in config.heatmaps],
        skipped_metrics=[{"metrics": "faithfulness", "method": h.method,
                          "reason": PRECOMPUTED_SKIP} for h in config.heatmaps],
        conditions=[asdict(c) for c in found.conditions],
        samples={"total": counts.total, "scored": counts.scored,
                 "excluded": counts.excluded, "partial": counts.partial},
        narrative=narrative.run_info(),
        grouping=found.grouping.as_dict(),
    )


__all__ = ["public_config", "run_record"]
