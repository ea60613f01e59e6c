"""``--data sample`` and ``--data sample-heldout``: a synthetic dataset in OmniMedVQA's native layout.

``sample``: 800 multiple-choice questions, 20 for each of the 8 modalities x 5
question types; ``sample-heldout``: 400 others (10 per cell), drawn from other
random seeds, for measuring what training generalises to. The images are 64x64,
drawn procedurally, generated on first use into ``$MEDR1_CACHE/sample-v3`` and
``$MEDR1_CACHE/sample-v3-heldout`` (default under ``~/.cache/medr1``) in about a
second; this module is the source of truth, nothing binary is committed.
Generation is deterministic: the same files every time.

Every answer can be read off its image, and only off its image: options come in
random order, so the letter carries nothing, and each question type asks the
same question of every image.

- each modality has its own look (CT: a grey disc in a bright ring; MRI: a grey
  oval with a dark core; X-ray: bright rib stripes and a spine; ultrasound: a
  speckled fan; dermoscopy: a brown mole on skin tone; fundus: an orange disc;
  OCT: wavy horizontal layers; microscopy: purple dots on pink);
- *modality recognition*: which of those looks it is;
- *anatomy identification*: the quadrant holding a square marker, one
  structure name per quadrant and modality;
- *disease diagnosis*: whether a bright round lesion is present (two options);
- *lesion grading*: how many lesions there are (grade 0 to 3);
- *other biological attributes*: the lesion's size (small, medium, large).

:func:`caption` says in words what an image shows (its modality, where the
marker is, how many lesions and their size; never a question, an option list or
a letter): the image-text pairs the tiny model is pretrained on
(:mod:`medr1_core.offline.pretrain`), drawn from a third pool of seeds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .cache import build_atomically, cache_dir

VERSION = "sample-v3"
SIZE = 64

#: modality id -> (OmniMedVQA modality_type label, name used in options, file-name stem)
MODALITIES = {
    "ct": ("CT(Computed Tomography)", "CT", "CT"),
    "mri": ("MR (Mag-netic Resonance Imaging)", "MRI", "MRI"),
    "xray": ("X-Ray", "X-ray", "XRay"),
    "ultrasound": ("ultrasound", "Ultrasound", "Ultrasound"),
    "dermoscopy": ("Dermoscopy", "Dermoscopy", "Dermoscopy"),
    "fundus": ("Fundus Photography", "Fundus photography", "Fundus"),
    "oct": ("OCT (Optical Coherence Tomography", "OCT", "OCT"),
    "microscopy": ("Microscopy Images", "Microscopy", "Microscopy"),
}

#: task id -> OmniMedVQA question_type label
TASKS = {
    "modality_recognition": "Modality Recognition",
    "anatomy_identification": "Anatomy Identification",
    "disease_diagnosis": "Disease Diagnosis",
    "lesion_grading": "Lesion Grading",
    "other_biological_attributes": "Other Biological Attributes",
}

#: the structure each quadrant (top-left, top-right, bottom-left, bottom-right) stands for
ANATOMY = {
    "ct": ("Lung", "Liver", "Kidney", "Spleen"),
    "mri": ("Brain", "Knee", "Spine", "Shoulder"),
    "xray": ("Chest", "Hand", "Knee", "Pelvis"),
    "ultrasound": ("Liver", "Kidney", "Thyroid", "Bladder"),
    "dermoscopy": ("Face", "Back", "Arm", "Leg"),
    "fundus": ("Optic disc", "Macula", "Superior arcade", "Inferior arcade"),
    "oct": ("Fovea", "Optic nerve head", "Nasal retina", "Temporal retina"),
    "microscopy": ("Colon tissue", "Lymph node", "Blood smear", "Breast tissue"),
}

DISEASE = {
    "ct": "Lung nodule",
    "mri": "Brain tumor",
    "xray": "Pneumonia",
    "ultrasound": "Liver lesion",
    "dermoscopy": "Melanoma",
    "fundus": "Diabetic retinopathy",
    "oct": "Macular edema",
    "microscopy": "Malaria parasites",
}

GRADES = ("Grade 0 (no lesion)", "Grade 1 (one lesion)", "Grade 2 (two lesions)", "Grade 3 (three lesions)")
SIZES = {"small": 3, "medium": 5, "large": 8}
#: split -> (questions per modality x task cell, seed tag). Tag 2 is the pretraining pool's.
SPLITS = {"train": (20, 0), "heldout": (10, 1)}
PRETRAINING_SEED_TAG = 2
_COUNTS = ("No", "One", "Two", "Three")
#: modalities whose file goes under Restricted-access (OmniMedVQA has both folders)
RESTRICTED = {"microscopy"}


def ensure_sample_data(root: str | os.PathLike | None = None, split: str = "train") -> Path:
    """The folder of the sample dataset's ``split`` ("train" or "heldout"; default
    ``cache_dir() / VERSION``, with ``-heldout`` for the held-out split), generating it
    first if it is not there yet.

    Safe when several processes (DDP ranks) call it at once: each writes into a
    private temporary folder that is renamed into place; the first rename wins
    (:func:`medr1_core.offline.cache.build_atomically`). A folder there without the
    ``.complete`` marker is taken for a leftover and replaced.
    """
    _check_split(split)
    default = VERSION if split == "train" else f"{VERSION}-{split}"
    target = Path(root) if root is not None else cache_dir() / default

    def build(tmp: Path) -> None:
        generate(tmp, split)
        (tmp / ".complete").write_text(VERSION + "\n")

    return build_atomically(
        target,
        build,
        is_complete=lambda p: (p / ".complete").exists(),
        is_ours=Path.is_dir,
        what="a medr1 sample dataset folder",
    )


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown sample split {split!r}; expected one of {', '.join(SPLITS)}")


def generate(root: str | os.PathLike, split: str = "train") -> int:
    """Write the ``split`` under ``root`` (QA_information/ and Images/); returns the question count."""
    import numpy as np

    _check_split(split)
    per_cell, tag = SPLITS[split]
    root = Path(root)
    count = 0
    for m_index, (modality, (label, _name, stem)) in enumerate(MODALITIES.items()):
        dataset = f"Synthetic-{stem}"
        access = "Restricted-access" if modality in RESTRICTED else "Open-access"
        qa_dir = root / "QA_information" / access
        image_dir = root / "Images" / dataset
        qa_dir.mkdir(parents=True, exist_ok=True)
        image_dir.mkdir(parents=True, exist_ok=True)
        records = []
        for t_index, (task, task_label) in enumerate(TASKS.items()):
            for k in range(per_cell):
                rng = np.random.default_rng([m_index, t_index, k, tag, 2503_13939])
                scene = draw_scene(modality, task, k, rng)
                question, options, answer = question_for(scene, rng)
                relative = f"Images/{dataset}/{task}_{k}.png"
                _save(scene.pixels, modality, root / relative)
                record = {
                    "question_id": f"{dataset}_{task}_{k}",
                    "dataset": dataset,
                    "question_type": task_label,
                    "question": question,
                    "gt_answer": answer,
                    "image_path": relative,
                    "modality_type": label,
                }
                record.update({f"option_{letter}": text for letter, text in zip("ABCD", options)})
                records.append(record)
                count += 1
        (qa_dir / f"{dataset}.json").write_text(json.dumps(records, indent=1))
    return count


@dataclass
class Scene:
    """One drawn image and what it shows (what a caption says and a question asks)."""

    modality: str
    task: str
    pixels: object  # float RGB array in 0..1, shape (SIZE, SIZE, 3)
    quadrant: int | None = None  # the marker's quadrant (anatomy identification)
    lesions: int | None = None  # how many lesions (None: the image is not about lesions)
    size: str | None = None  # their size, a key of SIZES


def draw_scene(modality: str, task: str, k: int, rng) -> Scene:
    """The image for question ``k`` of a cell: the ``k`` spreads answers evenly over a cell
    (grade ``k % 4``, size ``k % 3``, lesion present for even ``k``); the rest is ``rng``'s."""
    image = _base(modality, rng)
    if task == "modality_recognition":
        return Scene(modality, task, image)
    if task == "anatomy_identification":
        quadrant = int((k + rng.integers(4)) % 4)
        _marker(image, modality, quadrant)
        return Scene(modality, task, image, quadrant=quadrant)
    if task == "disease_diagnosis":
        n = 1 if k % 2 == 0 else 0
        _lesions(image, modality, n, SIZES["medium"], rng)
        return Scene(modality, task, image, lesions=n, size="medium")
    if task == "lesion_grading":
        n = k % 4
        _lesions(image, modality, n, SIZES["small"], rng)
        return Scene(modality, task, image, lesions=n, size="small")
    if task == "other_biological_attributes":
        size = list(SIZES)[k % 3]
        _lesions(image, modality, 1, SIZES[size], rng)
        return Scene(modality, task, image, lesions=1, size=size)
    raise ValueError(f"unknown task {task!r}")


def question_for(scene: Scene, rng) -> tuple[str, list[str], str]:
    """(question, option texts in random order, correct text) about ``scene``."""
    modality = scene.modality
    if scene.task == "modality_recognition":
        others = [m for m in MODALITIES if m != modality]
        chosen = [modality, *rng.choice(others, size=3, replace=False)]
        question, options, answer = ("Which imaging modality was used to acquire this image?",
                                     [MODALITIES[m][1] for m in chosen], MODALITIES[modality][1])
    elif scene.task == "anatomy_identification":
        question, options, answer = ("Which anatomical structure is shown in this image?",
                                     list(ANATOMY[modality]), ANATOMY[modality][scene.quadrant])
    elif scene.task == "disease_diagnosis":
        question, options = "What is the diagnosis for this image?", [DISEASE[modality], "Normal"]
        answer = DISEASE[modality] if scene.lesions else "Normal"
    elif scene.task == "lesion_grading":
        question, options = "How severe is the finding, graded by the number of lesions?", list(GRADES)
        answer = GRADES[scene.lesions]
    else:
        question, options, answer = "What is the size of the lesion in this image?", list(SIZES), scene.size
    rng.shuffle(options)
    return question, list(options), answer


def caption(scene: Scene) -> str:
    """What ``scene`` shows, in words: ``"CT image. Marker on the Liver."``,
    ``"MRI image. Brain tumor. Two lesions, small."``, ``"X-ray image. Normal. No lesions."``."""
    parts = [f"{MODALITIES[scene.modality][1]} image."]
    if scene.quadrant is not None:
        parts.append(f"Marker on the {ANATOMY[scene.modality][scene.quadrant]}.")
    if scene.lesions is not None:
        if scene.lesions == 0:
            parts.append("Normal. No lesions.")
        else:
            plural = "lesion" if scene.lesions == 1 else "lesions"
            parts.append(f"{DISEASE[scene.modality]}. {_COUNTS[scene.lesions]} {plural}, {scene.size}.")
    return " ".join(parts)


def _grid():
    import numpy as np

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return y - SIZE / 2 + 0.5, x - SIZE / 2 + 0.5


def _base(modality: str, rng):
    """The modality's signature look: float RGB pixels in 0..1, shape (SIZE, SIZE, 3)."""
    import numpy as np

    y, x = _grid()
    r = np.hypot(x, y)
    noise = rng.normal(0.0, 0.03, (SIZE, SIZE))
    gray = np.zeros((SIZE, SIZE))
    if modality == "ct":
        gray[r < 27] = 0.45
        gray[(r >= 24) & (r < 27)] = 0.95
    elif modality == "mri":
        ellipse = (x / 26) ** 2 + (y / 29) ** 2
        gray[ellipse < 1] = 0.6
        gray[(x / 8) ** 2 + (y / 12) ** 2 < 1] = 0.2
    elif modality == "xray":
        gray[:] = 0.12
        gray[(np.abs(x) > 6) & ((y.astype(int) + SIZE) % 8 < 3)] = 0.7
        gray[np.abs(x) < 4] = 0.85
    elif modality == "ultrasound":
        angle = np.degrees(np.arctan2(x, y + SIZE / 2))
        fan = (np.abs(angle) < 35) & (np.hypot(x, y + SIZE / 2) < SIZE * 1.4)
        gray[fan] = rng.uniform(0.25, 0.65, size=int(fan.sum()))
    elif modality == "oct":
        gray[:] = 0.05
        wave = 4 * np.sin(x / 9.0)
        for offset, level in ((-10, 0.8), (-4, 0.45), (3, 0.7), (9, 0.35)):
            gray[np.abs(y - offset - wave) < 2] = level
    if modality in ("dermoscopy", "fundus", "microscopy"):
        image = np.zeros((SIZE, SIZE, 3))
        if modality == "dermoscopy":
            image[:] = (0.86, 0.66, 0.56)
            image[r < 14] = (0.40, 0.24, 0.15)
        elif modality == "fundus":
            image[r < 29] = (0.82, 0.32, 0.10)
            image[np.hypot(x - 12, y) < 5] = (0.98, 0.85, 0.55)
        else:
            image[:] = (0.95, 0.84, 0.90)
            for cy, cx in rng.integers(2, SIZE - 2, size=(25, 2)):
                image[np.hypot(x - (cx - SIZE / 2), y - (cy - SIZE / 2)) < 2] = (0.45, 0.20, 0.60)
        return np.clip(image + noise[..., None], 0, 1)
    return np.clip(np.repeat((gray + noise)[..., None], 3, axis=2), 0, 1)


def _marker(image, modality: str, quadrant: int) -> None:
    """A 12x12 square marker in one quadrant (its structure's place)."""
    top = 6 if quadrant < 2 else SIZE - 18
    left = 6 if quadrant % 2 == 0 else SIZE - 18
    colour = (0.1, 0.9, 0.9) if modality in ("dermoscopy", "fundus", "microscopy") else (0.3, 0.3, 0.3)
    image[top : top + 12, left : left + 12] = colour


def _lesions(image, modality: str, n: int, radius: int, rng) -> None:
    """``n`` bright round lesions of ``radius`` pixels, apart from each other."""
    import numpy as np

    y, x = _grid()
    colour = (1.0, 1.0, 0.55) if modality in ("dermoscopy", "fundus", "microscopy") else (1.0, 1.0, 1.0)
    centres: list[tuple[float, float]] = []
    while len(centres) < n:
        cy, cx = rng.uniform(-SIZE / 2 + radius + 2, SIZE / 2 - radius - 2, size=2)
        if all(np.hypot(cy - py, cx - px) > 2 * radius + 4 for py, px in centres):
            centres.append((cy, cx))
    for cy, cx in centres:
        image[np.hypot(x - cx, y - cy) < radius] = colour


def _save(pixels, modality: str, path: Path) -> None:
    """Save as the modality's images often come: 16-bit grey (CT), 8-bit grey, or colour."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if modality == "ct":
        Image.fromarray((pixels[..., 0] * 4095).astype(np.uint16)).save(path)  # 12-bit values, as CT stores
    elif modality in ("dermoscopy", "fundus", "microscopy"):
        Image.fromarray((pixels * 255).astype(np.uint8), "RGB").save(path)
    else:
        Image.fromarray((pixels[..., 0] * 255).astype(np.uint8), "L").save(path)
