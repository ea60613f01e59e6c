"""medr1's built-in dataset formats, registered as data-format plugins.

- ``omnimedvqa``: OmniMedVQA as published (``QA_information/*-access/*.json``
  beside ``Images/``), see :mod:`.omnimedvqa`;
- ``medr1-split``: Med-R1's split JSON (``image``, ``problem`` with inline
  options, ``solution``), see :mod:`.medr1_splits`;
- ``jsonl``: one Sample per line, for your own data, see :mod:`.jsonl`;
- the medical VQA benchmarks in their published layouts: ``slake``
  (:mod:`.slake`), ``vqa-rad`` (:mod:`.vqa_rad`), ``path-vqa``
  (:mod:`.path_vqa`), ``pmc-vqa`` (:mod:`.pmc_vqa`) and ``mmmu-med``
  (:mod:`.mmmu`); docs/data.md says where to get each and what its labels map to.

:func:`medr1_core.data.load_samples` tries each registered format's
``detect`` in turn (or uses the one named with ``--format``).
"""

from __future__ import annotations

from medr1_core import DataFormat, hookimpl

from . import jsonl, medr1_splits, mmmu, omnimedvqa, path_vqa, pmc_vqa, slake, vqa_rad

FORMATS = tuple(
    DataFormat(name=module.NAME, description=module.DESCRIPTION, detect=module.detect, read=module.read)
    for module in (omnimedvqa, medr1_splits, jsonl, slake, vqa_rad, path_vqa, pmc_vqa, mmmu)
)


@hookimpl
def medr1_register_data_formats(register):
    for data_format in FORMATS:
        register(data_format)
