"""Scoring: a batch's heatmaps through the registered scorers into the tidy scores table
(``table``), and the gallery's streaming selection of example images from those scores
(``gallery``)."""

from reportgen.scoring.table import (
    SCORE_COLUMNS,
    BatchScores,
    PartsRequest,
    ScoredGroup,
    ScoredParts,
    empty_scores,
    frame,
    object_metric_rows,
    region_batch,
    region_scorers,
    score_batch,
    score_many,
    score_parts,
    score_with_model,
    size_groups,
)

__all__ = ["SCORE_COLUMNS", "BatchScores", "PartsRequest", "ScoredGroup", "ScoredParts",
           "empty_scores", "frame", "object_metric_rows", "region_batch", "region_scorers",
           "score_batch", "score_many", "score_parts", "score_with_model", "size_groups"]
