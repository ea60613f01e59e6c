"""Training: ``medr1 train``, GRPO through TRL's ``GRPOTrainer``.

- :mod:`.config`: :class:`TrainConfig`, validated (``grpo:`` against TRL's ``GRPOConfig``);
- :mod:`.models`: what ``--model`` names, and loading it;
- :mod:`.engine`: building the trainer and running it;
- :mod:`.recording`: what every trainer writes and shows while it trains (metrics, completions,
  the report at checkpoints, one progress bar): :func:`~.recording.attach_run_callbacks`;
- :mod:`.run_dir`: the run directory's files.
"""
