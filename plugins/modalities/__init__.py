"""The eight OmniMedVQA imaging modalities, as medr1 modality plugins.

Each :class:`~medr1_core.Modality` carries the labels datasets use for it
(OmniMedVQA's ``modality_type`` values and the Med-R1 split file names, typos
included: ``"MR (Mag-netic Resonance Imaging)"``, ``"OCT (Optical Coherence
Tomography"``), matched case- and punctuation-insensitively, and how its images
are prepared: converted to RGB (vision towers take three channels) and resized,
keeping the aspect ratio, to lie within 56x56..384x384 pixels, close to Med-R1's
Qwen2-VL settings. CT, MRI and X-ray read a DICOM header's window centre/width.
``default_trees`` names the decision trees of the ``dtree`` reward
(``plugins/rewards/trees/<id>.yaml``) that apply to the modality.

A third-party package adds a modality the same way::

    from medr1_core import Modality, hookimpl

    @hookimpl
    def medr1_register_modalities(register):
        register(Modality(id="pet", name="PET", aliases=("Positron emission tomography",)))
"""

from __future__ import annotations

from medr1_core import Modality, hookimpl

MIN_PIXELS = 56 * 56
MAX_PIXELS = 384 * 384


def _modality(id: str, name: str, aliases: tuple[str, ...], *, dicom_window: bool = False,
              default_trees: tuple[str, ...] = ()) -> Modality:
    return Modality(
        id=id,
        name=name,
        aliases=aliases,
        image_mode="RGB",
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        dicom_window=dicom_window,
        default_trees=default_trees,
    )


MODALITIES = (
    _modality(
        "ct",
        "CT (computed tomography)",
        ("CT(Computed Tomography)", "Computed Tomography", "CT scan", "CT imaging", "Computerized Tomography"),
        dicom_window=True,
        default_trees=("ct_covid_rsna", "modality_cues"),
    ),
    _modality(
        "mri",
        "MRI (magnetic resonance imaging)",
        (
            "MR (Mag-netic Resonance Imaging)",  # OmniMedVQA's label, typo included
            "MR (Magnetic Resonance Imaging)",
            "Magnetic Resonance Imaging",
            "MR",
            "MRI scan",
        ),
        dicom_window=True,
        default_trees=("modality_cues",),
    ),
    _modality(
        "xray",
        "X-ray radiography",
        ("X-Ray", "X ray", "Radiography", "Radiograph", "Plain film", "Mammography", "Mammogram", "CXR"),
        dicom_window=True,
        default_trees=("cxr_pneumonia_covid", "knee_oa_kl", "mammography_birads", "modality_cues"),
    ),
    _modality(
        "ultrasound",
        "Ultrasound",
        ("US", "Ultrasonography", "Sonography", "Ultrasound imaging", "Echography"),
        default_trees=("modality_cues",),
    ),
    _modality(
        "dermoscopy",
        "Dermoscopy",
        ("Dermatoscopy", "Dermoscopic imaging", "Dermoscopy images", "Skin lesion photography"),
        default_trees=("dermoscopy_melanoma_abcd", "modality_cues"),
    ),
    _modality(
        "fundus",
        "Fundus photography",
        ("Fundus Photography", "Fundus photo", "Fundus imaging", "Retinal fundus photography",
         "Color fundus photography", "CFP"),
        default_trees=("fundus_dr_icdr", "modality_cues"),
    ),
    _modality(
        "oct",
        "OCT (optical coherence tomography)",
        (
            "OCT (Optical Coherence Tomography",  # OmniMedVQA's label, missing ')' included
            "Optical Coherence Tomography",
            "Retinal OCT",
        ),
        default_trees=("modality_cues",),
    ),
    _modality(
        "microscopy",
        "Microscopy",
        ("Microscopy Images", "Microscopic Images", "Microscope", "Light microscopy", "Histopathology", "Histology", "Cytology",
         "Pathology"),
        default_trees=("modality_cues",),
    ),
)


@hookimpl
def medr1_register_modalities(register):
    for modality in MODALITIES:
        register(modality)
