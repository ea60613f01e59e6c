"""How many CPU threads torch uses in a CPU run of ``medr1 train`` / ``medr1 eval`` (``MEDR1_THREADS``).

torch starts one intra-op thread per core it sees. On a small machine shared
with other work (a laptop, a CI runner, a 2-core VM with several jobs) those
threads wait on each other and on the neighbours: with 2 cores busy elsewhere,
the tiny model's generation ran about 15x slower with 2 threads than with 1.
The operations of a small model are too short to gain much from many threads
anyway (``benchmarks/bench_threads.py`` measures it on your machine).

``MEDR1_THREADS`` chooses:

* a whole number ``N >= 1``: exactly N threads per process;
* ``auto``, or unset: :func:`default_threads` -- half the cores this process may
  run on, shared among the processes of a multi-process run on this machine
  (``LOCAL_WORLD_SIZE``), at least 1 and at most :data:`MAX_DEFAULT_THREADS` --
  unless ``OMP_NUM_THREADS`` is set (then torch's own choice from it is kept:
  the user, or ``torchrun``, already chose).

Anything else is refused with one line naming the variable and what it takes.
Only CPU runs are touched: on a GPU the threads only feed the device.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError

#: The environment variable that sets the thread count.
ENV = "MEDR1_THREADS"
#: The most threads the default gives one process (small models gain nothing beyond it).
MAX_DEFAULT_THREADS = 4


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it, else all)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads(cores: int | None = None, local_processes: int | None = None) -> int:
    """Half the cores, split among the processes of this machine; between 1 and :data:`MAX_DEFAULT_THREADS`.

    >>> default_threads(cores=2, local_processes=1), default_threads(cores=16, local_processes=1)
    (1, 4)
    >>> default_threads(cores=8, local_processes=2)
    2
    """
    cores = available_cores() if cores is None else cores
    if local_processes is None:
        local_processes = _positive_int(os.environ.get("LOCAL_WORLD_SIZE", "1")) or 1
    return max(1, min(MAX_DEFAULT_THREADS, cores // 2 // local_processes))


def _positive_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def requested_threads(env: Mapping[str, str] | None = None) -> int | None:
    """The thread count ``env`` (default: ``os.environ``) asks for, or ``None`` to leave torch as it is.

    Raises :class:`~medr1_core.errors.ConfigError` for a value that is not a whole number >= 1 or ``auto``.
    """
    env = os.environ if env is None else env
    value = env.get(ENV)
    if value is None or value.strip() == "":
        return None if env.get("OMP_NUM_THREADS") else default_threads()
    if value.strip().lower() == "auto":
        return default_threads()
    threads = _positive_int(value)
    if threads is None:
        raise ConfigError(f"{ENV}={value!r}: expected a whole number of CPU threads (1 or more) or 'auto'")
    return threads


def apply_cpu_threads(env: Mapping[str, str] | None = None) -> int:
    """Set torch's intra-op threads as :func:`requested_threads` says; return the count torch now uses.

    Call it at the start of a CPU run, before the model loads (the CLI's ``train`` and ``eval`` do).
    """
    threads = requested_threads(env)
    import torch

    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def check_threads_setting(env: Mapping[str, str] | None = None) -> None:
    """Refuse a bad ``MEDR1_THREADS`` (one line) without touching torch: for runs on a GPU too."""
    requested_threads(env)


def configure_threads(device: str) -> int | None:
    """For a run on ``device``: on ``cpu``, :func:`apply_cpu_threads` (returns the count); elsewhere only
    :func:`check_threads_setting` (returns ``None``)."""
    if device == "cpu":
        return apply_cpu_threads()
    check_threads_setting()
    return None
