"""The eight modality plugins: ids, aliases (OmniMedVQA and Med-R1 labels), image settings."""

from __future__ import annotations

import pytest

from medr1_core import Modality
from medr1_core.plugins import get_plugins

from helpers import SPLITS

IDS = ["ct", "mri", "xray", "ultrasound", "dermoscopy", "fundus", "oct", "microscopy"]

#: Med-R1 split file name (OmniMedVQA's modality_type label) -> canonical id
SPLIT_FILES = {
    "CT(Computed Tomography)_test.json": "ct",
    "MR (Mag-netic Resonance Imaging)_test.json": "mri",
    "X-Ray_test.json": "xray",
    "ultrasound_test.json": "ultrasound",
    "Dermoscopy_test.json": "dermoscopy",
    "Fundus Photography_test.json": "fundus",
    "OCT (Optical Coherence Tomography_test.json": "oct",
    "Microscopy Images_test.json": "microscopy",
}


def test_the_eight_modalities_are_registered_by_the_builtin_plugin():
    plugins = get_plugins()
    assert set(IDS) <= set(plugins.modalities.names())
    for mid in IDS:
        modality = plugins.modalities.get(mid)
        assert isinstance(modality, Modality) and modality.id == mid and modality.name
        assert "medr1" in plugins.modalities.origin(mid)


def test_every_modality_file_of_the_splits_resolves_through_the_aliases():
    from medr1_plugins.formats._common import label_from_filename

    files = sorted(p.name for p in (SPLITS / "modality").glob("*.json"))
    assert set(files) == set(SPLIT_FILES), "the split folder changed: update SPLIT_FILES"
    plugins = get_plugins()
    for name, expected in SPLIT_FILES.items():
        label = label_from_filename(SPLITS / "modality" / name)
        assert plugins.modalities.resolve(label) == expected, label


@pytest.mark.parametrize(
    "label, expected",
    [
        ("MR (Mag-netic Resonance Imaging)", "mri"),
        ("MR (Magnetic Resonance Imaging)", "mri"),
        ("mr  (mag-netic resonance imaging)", "mri"),
        ("OCT (Optical Coherence Tomography", "oct"),
        ("OCT (Optical Coherence Tomography)", "oct"),
        ("CT(Computed Tomography)", "ct"),
        ("CT (computed tomography)", "ct"),
        ("x_ray", "xray"),
        ("X-Ray", "xray"),
        ("Ultrasound", "ultrasound"),
        ("Fundus Photography", "fundus"),
        ("Microscopy Images", "microscopy"),
        ("dermoscopy", "dermoscopy"),
    ],
)
def test_labels_resolve_ignoring_case_and_punctuation(label, expected):
    assert get_plugins().modalities.resolve(label) == expected


def test_each_alias_resolves_to_its_own_modality():
    plugins = get_plugins()
    for mid in IDS:
        for alias in plugins.modalities.get(mid).aliases:
            assert plugins.modalities.resolve(alias) == mid, alias


def test_unknown_label_does_not_resolve_and_get_suggests():
    plugins = get_plugins()
    assert plugins.modalities.resolve("Endoscopy") is None
    with pytest.raises(KeyError, match="Did you mean 'fundus'"):
        plugins.modalities.get("fundas")


def test_image_settings_follow_med_r1_bounds_and_dicom_windows_for_ct_mri_xray():
    plugins = get_plugins()
    for mid in IDS:
        modality = plugins.modalities.get(mid)
        assert modality.image_mode == "RGB"
        assert modality.min_pixels == 56 * 56 and modality.max_pixels == 384 * 384
        assert modality.dicom_window == (mid in {"ct", "mri", "xray"})


def test_default_trees_name_decision_trees_the_dtree_reward_ships():
    from pathlib import Path

    import medr1_plugins

    trees = {p.stem for p in (Path(medr1_plugins.__file__).parent / "rewards" / "trees").glob("*.yaml")}
    plugins = get_plugins()
    named = {tree for mid in IDS for tree in plugins.modalities.get(mid).default_trees}
    assert named and named <= trees, f"unknown trees: {sorted(named - trees)}"
    assert "knee_oa_kl" in plugins.modalities.get("xray").default_trees
