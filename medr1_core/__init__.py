"""medr1: GRPO training of medical vision-language models, with plugins.

What plugin authors import::

    from medr1_core import hookimpl, reward, Reward, Modality, Task, DataFormat

Where things live: ``hookspecs`` (the plugin hooks), ``plugins`` (loading
them), ``samples`` (Sample, Completion, Rollout), ``rewards`` (what a reward
is), ``specs`` (Modality, Task, DataFormat).
"""

__version__ = "0.1.0"

from .hookspecs import hookimpl
from .rewards import NoParams, Reward, reward
from .samples import Completion, Rollout, Sample
from .specs import BadRecord, DataFormat, Modality, Task

__all__ = [
    "hookimpl",
    "reward",
    "Reward",
    "NoParams",
    "Sample",
    "Completion",
    "Rollout",
    "Modality",
    "Task",
    "DataFormat",
    "BadRecord",
    "__version__",
]
