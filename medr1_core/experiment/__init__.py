"""``medr1 experiment``: the paper's comparisons in one command.

- :mod:`.spec`: ``EXPERIMENT.yaml`` validated, and the cells it expands to
  (method x prompt variant x training subset);
- :mod:`.runner`: running the cells (train with ``medr1 train`` / ``medr1 sft``,
  evaluate with ``medr1 eval`` on every test subset), resume, one cell at a time
  for a SLURM array (``--cell N``);
- :mod:`.tables`: the tables and heatmaps, from :mod:`medr1_core.eval`'s
  statistics (Wilson intervals, exact McNemar, the generalization matrix).
"""

from .runner import ExperimentRun, cell_status, experiment_root, run_experiment
from .spec import Cell, ExperimentSpec, plan, read_experiment

__all__ = ["Cell", "ExperimentRun", "ExperimentSpec", "cell_status", "experiment_root", "plan", "read_experiment",
           "run_experiment"]
