"""medr1's built-in dataset formats, registered as data-format plugins.

- ``omnimedvqa``: OmniMedVQA as published (``QA_information/*-access/*.json``
  beside ``Images/``), see :mod:`.omnimedvqa`;
- ``medr1-split``: Med-R1's split JSON (``image``, ``problem`` with inline
  options, ``solution``), see :mod:`.medr1_splits`;
- ``jsonl``: one Sample per line, for your own data, see :mod:`.jsonl`.

:func:`medr1_core.data.load_samples` tries each registered format's
``detect`` in turn (or uses the one named with ``--format``).
"""

from __future__ import annotations

from medr1_core import DataFormat, hookimpl

from . import jsonl, medr1_splits, omnimedvqa

FORMATS = tuple(
    DataFormat(name=module.NAME, description=module.DESCRIPTION, detect=module.detect, read=module.read)
    for module in (omnimedvqa, medr1_splits, jsonl)
)


@hookimpl
def medr1_register_data_formats(register):
    for data_format in FORMATS:
        register(data_format)
