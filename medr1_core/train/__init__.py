"""Training: ``medr1 train``, GRPO through TRL's ``GRPOTrainer``.

- :mod:`.config`: :class:`TrainConfig`, validated (``grpo:`` against TRL's ``GRPOConfig``);
- :mod:`.models`: what ``--model`` names, and loading it;
- :mod:`.engine`: building the trainer and running it;
- :mod:`.recording`: what a run writes while it trains (metrics, completions);
- :mod:`.run_dir`: the run directory's files.
"""
