"""Evaluation: ``medr1 eval``, accuracy by modality and task, the generalization matrix.

- :mod:`.run`: :func:`evaluate`, generate and score every question, resumable;
- :mod:`.predictions`: ``predictions.jsonl``;
- :mod:`.results`: ``results.json`` / ``results.md`` / ``heatmap.png``;
- :mod:`.generation`: batched generation (transformers, vLLM);
- :mod:`.stats`: Wilson intervals, exact McNemar, Holm;
- :mod:`.matrix`: the cross-modality / cross-task matrix.
"""
