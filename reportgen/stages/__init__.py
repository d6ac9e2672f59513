"""The stages of a run, in flow order (``reportgen.pipeline.run_pipeline`` wires them):

    load ─> explain ─> score ─> aggregate ─> find ─> narrate ─> publish ─> render

Streaming stages see the dataset one batch at a time and keep only what they must:

* ``explain.ExplainStage.update(batch) -> [Explained]``: heatmaps of every explainer (each
  model x method, the baselines, precomputed heatmaps) for one batch;
* ``score.ScoreStage.update(batch, explained)`` then ``compute() -> Scored``: the registered
  scorers (``reportgen.metrics.scorers``) into the scores table, the exclusions, the
  per-sample counts and the gallery's examples.

Table stages are functions of the previous stage's output: ``aggregate`` (statistics and
facts), ``find`` (findings, CI-gate conditions), ``narrate`` (the written sections),
``publish`` (the run directory's data files) and ``render`` (HTML, PDF, model card; also
``reportgen render RUN`` from the saved files). Each stage takes the run config's frozen
sub-model it needs; nothing here imports a later stage.
"""
