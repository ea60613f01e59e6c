"""Small files in each medical VQA benchmark's published layout (import as ``from benchmark_layouts import ...``).

Each writer builds a folder the way the benchmark is downloaded (file names,
columns, image storage) with a handful of questions, and returns what it
wrote so tests compare what medr1 reads with what is there.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np


def png_bytes(seed: int, size: int = 24) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(seed))


# --------------------------------------------------------------------------- SLAKE


SLAKE_RECORDS = {
    "train": [
        dict(img_id=1, img_name="xmlab1/source.jpg", question="What modality is used to take this image?", answer="MRI",
             q_lang="en", location="Abdomen", modality="MRI", answer_type="OPEN", base_type="vqa",
             content_type="Modality", triple=["vhead", "_", "_"], qid=0),
        dict(img_id=1, img_name="xmlab1/source.jpg", question="Does the picture contain liver?", answer="Yes",
             q_lang="en", location="Abdomen", modality="MRI", answer_type="CLOSED", base_type="vqa",
             content_type="Organ", triple=["vhead", "_", "_"], qid=1),
        dict(img_id=1, img_name="xmlab1/source.jpg", question="图像中有肝脏吗？", answer="是", q_lang="zh",
             location="腹部", modality="MRI", answer_type="CLOSED", base_type="vqa", content_type="Organ",
             triple=["vhead", "_", "_"], qid=2),
        dict(img_id=2, img_name="xmlab2/source.jpg", question="Where is the abnormality?", answer="Left Lung",
             q_lang="en", location="Lung", modality="X-Ray", answer_type="OPEN", base_type="vqa",
             content_type="Position", triple=["vhead", "_", "_"], qid=3),
    ],
    "validate": [
        dict(img_id=2, img_name="xmlab2/source.jpg", question="Which is bigger, left lung or right lung?",
             answer="Right Lung", q_lang="en", location="Lung", modality="X-Ray", answer_type="CLOSED",
             base_type="vqa", content_type="Size", triple=["vhead", "_", "_"], qid=4),
        dict(img_id=2, img_name="xmlab2/source.jpg", question="What texture is shown?", answer="smooth",
             q_lang="en", location="Lung", modality="X-Ray", answer_type="OPEN", base_type="vqa",
             content_type="Texture", triple=["vhead", "_", "_"], qid=5),  # a label no task plugin knows
    ],
    "test": [
        dict(img_id=3, img_name="xmlab3/source.jpg", question="How many kidneys are there?", answer=2,
             q_lang="en", location="Abdomen", modality="CT", answer_type="OPEN", base_type="vqa",
             content_type="Quantity", triple=["vhead", "_", "_"], qid=6),
        dict(img_id=3, img_name="xmlab3/source.jpg", question="Is this a CT?", q_lang="en", location="Abdomen",
             modality="CT", answer_type="CLOSED", base_type="vqa", content_type="Modality", qid=7),  # no answer
    ],
}


def write_slake(root: Path) -> Path:
    """``train.json``, ``validate.json``, ``test.json`` beside ``imgs/xmlabN/source.jpg`` (and the
    per-image ``question.json`` the release has, which is not a split)."""
    for split, records in SLAKE_RECORDS.items():
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{split}.json").write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    for n in (1, 2, 3):
        write_png(root / "imgs" / f"xmlab{n}" / "source.jpg", n)
        (root / "imgs" / f"xmlab{n}" / "question.json").write_text(json.dumps([{"question": "q"}]))
    return root


# --------------------------------------------------------------------------- VQA-RAD (original JSON)


VQA_RAD_RECORDS = [
    dict(qid=1, image_name="synpic54610.jpg", image_organ="HEAD", answer="Yes", answer_type="CLOSED",
         question_type="PRES", question="Are regions of the brain infarcted?", phrase_type="freeform"),
    dict(qid=2, image_name="synpic54610.jpg", image_organ="HEAD", answer="MRI - FLAIR", answer_type="OPEN",
         question_type="MODALITY", question="What type of imaging is this?", phrase_type="test_freeform"),
    dict(qid=3, image_name="synpic29265.jpg", image_organ="CHEST", answer="right lower lobe", answer_type="OPEN",
         question_type="PRES, POS", question="Where is the consolidation?", phrase_type="para"),
    dict(qid=4, image_name="synpic29265.jpg", image_organ="CHEST", answer="No", answer_type="CLOSED ",
         question_type="XYZ", question="Is the heart enlarged?", phrase_type="test_para"),  # unknown type
    dict(qid=5, image_name="synpic29265.jpg", image_organ="CHEST", answer="2", answer_type="MAYBE",
         question_type="COUNT", question="How many ribs?", phrase_type="freeform"),  # bad answer_type
]


def write_vqa_rad_json(root: Path) -> Path:
    """The OSF release: ``VQA_RAD Dataset Public.json`` beside ``VQA_RAD Image Folder/``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(VQA_RAD_RECORDS, indent=1))
    for n, name in enumerate(("synpic54610.jpg", "synpic29265.jpg")):
        write_png(root / "VQA_RAD Image Folder" / name, n)
    return root


# --------------------------------------------------------------------------- Hub layout (VQA-RAD, PathVQA)


HUB_ROWS = {
    "train": [("is there evidence of an aortic aneurysm?", "yes"), ("where are the kidneys?", "in the retroperitoneum"),
              ("is the lesion cavitary?", "no")],
    "test": [("what organ is shown?", "lung"), ("are the lungs normal?", "No")],
}


def _hub_dataset(rows, seed: int):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string")})
    return datasets.Dataset.from_dict(
        {"image": [{"bytes": png_bytes(seed + i), "path": None} for i in range(len(rows))],
         "question": [q for q, _ in rows], "answer": [a for _, a in rows]},
        features=features,
    )


def write_hub_parquet(root: Path) -> Path:
    """What ``huggingface-cli download`` gives: ``data/<split>-00000-of-00001-<hash>.parquet`` + README.md."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\nlicense: cc0-1.0\n---\n")
    for n, (split, rows) in enumerate(HUB_ROWS.items()):
        _hub_dataset(rows, 10 * n).to_parquet(str(root / "data" / f"{split}-00000-of-00001-3f2a9c1d.parquet"))
    return root


def write_hub_arrow(root: Path) -> Path:
    """What ``DatasetDict.save_to_disk`` writes: ``<split>/data-00000-of-00001.arrow`` + JSON metadata."""
    import datasets

    datasets.DatasetDict({split: _hub_dataset(rows, 10 * n) for n, (split, rows) in enumerate(HUB_ROWS.items())}) \
        .save_to_disk(str(root))
    return root


# --------------------------------------------------------------------------- PMC-VQA


PMC_ROWS = [
    dict(index=0, Figure_path="PMC1064097_F1.jpg", Caption="...", Question="What is the uptake pattern in the breast?",
         Answer="Focal uptake pattern", **{"Choice A": "A:Diffuse uptake pattern", "Choice B": "B:Focal uptake pattern",
                                           "Choice C": "C:No uptake pattern",
                                           "Choice D": "D:Cannot determine from the information given"},
         Answer_label="B", split="train"),
    dict(index=1, Figure_path="PMC1064097_F2.jpg", Caption="...", Question="Which imaging modality was used?",
         Answer="CT", **{"Choice A": "A: MRI", "Choice B": "B: CT", "Choice C": "C: PET", "Choice D": "D: US"},
         Answer_label="", split="train"),  # no label: found from the answer text
    dict(index=2, Figure_path="PMC1064097_F2.jpg", Caption="...", Question="What does the arrow show?",
         Answer="A tumour", **{"Choice A": "A:A cyst", "Choice B": "B:A tumour", "Choice C": "C:Oedema",
                               "Choice D": "D:Calcification"},
         Answer_label="C", split="train"),  # label and text disagree
]


def _write_csv(path: Path, rows) -> None:
    columns = ["index", "Figure_path", "Caption", "Question", "Answer", "Choice A", "Choice B", "Choice C",
               "Choice D", "Answer_label", "split"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_pmc_vqa(root: Path) -> Path:
    """``train.csv``, ``test.csv``, ``test_clean.csv`` beside ``images/`` (images.zip unpacked)."""
    root.mkdir(parents=True, exist_ok=True)
    _write_csv(root / "train.csv", PMC_ROWS)
    test = [dict(PMC_ROWS[0], index=10, split="test")]
    _write_csv(root / "test.csv", test)
    _write_csv(root / "test_clean.csv", test)
    for n, name in enumerate(("PMC1064097_F1.jpg", "PMC1064097_F2.jpg")):
        write_png(root / "images" / name, n)
    return root


# --------------------------------------------------------------------------- MMMU


def _mmmu_row(row_id, question, options, answer, kind, images, img_type, subfield="Pathology"):
    row = {"id": row_id, "question": question, "options": repr(options), "explanation": "", "answer": answer,
           "img_type": repr(img_type), "topic_difficulty": "Medium", "question_type": kind, "subfield": subfield}
    for i in range(1, 8):
        row[f"image_{i}"] = {"bytes": png_bytes(100 + i), "path": None} if i <= images else None
    return row


MMMU_ROWS = {
    ("Clinical_Medicine", "validation"): [
        _mmmu_row("validation_Clinical_Medicine_1", "<image 1> What is the most likely diagnosis?",
                  ["Glioblastoma", "Meningioma", "Abscess", "Metastasis"], "A", "multiple-choice", 1,
                  ["Body Scans: MRI, CT scans, and X-rays"]),
        _mmmu_row("validation_Clinical_Medicine_2", "Compare <image 1> and <image 2>. Which shows necrosis?",
                  ["<image 1>", "<image 2>"], "B", "multiple-choice", 2, ["Microscopic Images"]),
        _mmmu_row("validation_Clinical_Medicine_3", "What is the cell count per field in <image 1>?", [],
                  "['24', '24.0']", "open", 1, ["Microscopic Images"]),
        _mmmu_row("validation_Clinical_Medicine_4", "Which lesion is in <image 3>?", ["a", "b"], "A",
                  "multiple-choice", 2, ["Holograms"]),  # <image 3> missing; unknown image type
    ],
    ("Clinical_Medicine", "test"): [
        _mmmu_row("test_Clinical_Medicine_1", "<image 1> Diagnosis?", ["x", "y"], "?", "multiple-choice", 1,
                  ["Medical Images"]),
    ],
    ("Physics", "validation"): [
        _mmmu_row("validation_Physics_1", "<image 1> Speed?", ["1", "2"], "A", "multiple-choice", 1, ["Diagrams"]),
    ],
}


def write_mmmu(root: Path) -> Path:
    """``MMMU/<Subject>/<split>-00000-of-00001.parquet`` for two subjects (one outside medicine)."""
    import datasets

    image = datasets.Image()
    columns = {"id": datasets.Value("string"), "question": datasets.Value("string"),
               "options": datasets.Value("string"), "explanation": datasets.Value("string"),
               **{f"image_{i}": image for i in range(1, 8)}, "img_type": datasets.Value("string"),
               "answer": datasets.Value("string"), "topic_difficulty": datasets.Value("string"),
               "question_type": datasets.Value("string"), "subfield": datasets.Value("string")}
    for (subject, split), rows in MMMU_ROWS.items():
        (root / subject).mkdir(parents=True, exist_ok=True)
        table = {key: [row[key] for row in rows] for key in columns}
        datasets.Dataset.from_dict(table, features=datasets.Features(columns)).to_parquet(
            str(root / subject / f"{split}-00000-of-00001.parquet"))
    return root
