"""Training: ``medr1 train``, GRPO through TRL's ``GRPOTrainer``, and ``medr1 sft``, TRL's ``SFTTrainer``.

- :mod:`.config`: :class:`TrainConfig`, validated (``grpo:`` against TRL's ``GRPOConfig``), and the
  :class:`RunSettings` every method shares;
- :mod:`.sft_config`, :mod:`.sft`: ``medr1 sft``'s configuration (``sft:`` against TRL's ``SFTConfig``),
  its targets and trainer;
- :mod:`.models`: what ``--model`` names, and loading it;
- :mod:`.engine`: building the trainer and running it;
- :mod:`.recording`: what every trainer writes and shows while it trains (metrics, completions,
  the report at checkpoints, one progress bar): :func:`~.recording.attach_run_callbacks`;
- :mod:`.run_dir`: the run directory's files.
"""
