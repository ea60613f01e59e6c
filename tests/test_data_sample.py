"""``--data sample``: generated deterministically, complete, and with answers readable from the images."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from medr1_core.data import check_images, image_path, load_samples
from medr1_core.data.images import open_image
from medr1_core.offline.sample_data import ANATOMY, GRADES, SIZE, SIZES, VERSION, ensure_sample_data, generate


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDR1_CACHE", str(cache))
        report = load_samples("sample")
    assert Path(report.path) == cache / VERSION
    return report


def pixels(sample) -> np.ndarray:
    return np.asarray(open_image(image_path(sample, sample.images[0])), dtype=np.int32)


def test_sample_covers_every_modality_and_task_in_native_layout(sample_report):
    report = sample_report
    assert report.format == "omnimedvqa" and report.bad == [] and len(report) == 800
    table = report.table()
    assert len(table) == 8 and all(len(row) == 5 and set(row.values()) == {20} for row in table.values())
    assert set(report.option_counts()) == {"2", "3", "4"}
    root = Path(report.path)
    assert (root / "QA_information" / "Open-access").is_dir() and (root / "QA_information" / "Restricted-access").is_dir()
    assert len(check_images(report.samples).samples) == 800


def test_generation_is_deterministic(tmp_path):
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
        return h.hexdigest()

    assert generate(tmp_path / "a") == generate(tmp_path / "b") == 800
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert generate(tmp_path / "h", "heldout") == 400


def test_the_heldout_split_shares_no_image_or_id_with_training(sample_report, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDR1_CACHE", str(Path(sample_report.path).parent))
    heldout = load_samples("sample-heldout")
    assert Path(heldout.path).name == f"{VERSION}-heldout" and len(heldout) == 400 and heldout.bad == []
    assert {row for row in heldout.table().values() for row in row.values()} == {10}

    def image_digest(sample):
        return hashlib.sha256(pixels(sample).tobytes()).hexdigest()

    train_images = {image_digest(s) for s in sample_report.samples if s.task != "modality_recognition"}
    # modality-only images differ in their noise; the others carry the answer in their layout
    assert not train_images & {image_digest(s) for s in heldout.samples if s.task != "modality_recognition"}
    with pytest.raises(ValueError, match="unknown sample split 'test'"):
        generate(tmp_path / "t", "test")


def test_captions_say_what_the_image_shows_and_never_an_option_letter():
    from medr1_core.offline.sample_data import TASKS, caption, draw_scene

    rng = np.random.default_rng(0)
    captions = {task: caption(draw_scene("ct", task, 2, rng)) for task in TASKS}
    assert captions["modality_recognition"] == "CT image."
    assert captions["anatomy_identification"].startswith("CT image. Marker on the ")
    assert captions["disease_diagnosis"] == "CT image. Lung nodule. One lesion, medium."
    assert captions["lesion_grading"] == "CT image. Lung nodule. Two lesions, small."
    assert captions["other_biological_attributes"] == "CT image. Lung nodule. One lesion, large."
    assert caption(draw_scene("mri", "disease_diagnosis", 1, rng)) == "MRI image. Normal. No lesions."
    assert not any(f"{letter})" in text for text in captions.values() for letter in "ABCD")


def test_ensure_reuses_a_complete_cache(tmp_path):
    root = ensure_sample_data(tmp_path / "s")
    marker = root / ".complete"
    stamp = marker.stat().st_mtime_ns
    assert ensure_sample_data(tmp_path / "s") == root and marker.stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".s-")]  # no temporary folder left


def lesions(image: np.ndarray) -> list[int]:
    """Areas of the bright lesions (connected pure-white / white-yellow blobs of 15+ pixels)."""
    mask = (image[..., 0] >= 250) & (image[..., 1] >= 250)
    seen = np.zeros_like(mask)
    areas = []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        stack, area = [(y, x)], 0
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            area += 1
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < SIZE and 0 <= nx < SIZE and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if area >= 15:
            areas.append(area)
    return areas


def marker_quadrant(image: np.ndarray) -> int | None:
    """The quadrant whose 12x12 marker patch is one flat colour (the rest of the image is noisy)."""
    for quadrant in range(4):
        top = 6 if quadrant < 2 else SIZE - 18
        left = 6 if quadrant % 2 == 0 else SIZE - 18
        patch = image[top : top + 12, left : left + 12]
        if patch.reshape(-1, 3).std(axis=0).max() == 0:
            return quadrant
    return None


def test_answers_can_be_read_off_the_images(sample_report):
    """A few lines of image analysis answer every question: the labels are in the pixels."""
    by_task: dict[str, list] = {}
    for sample in sample_report.samples:
        by_task.setdefault(sample.task, []).append(sample)
    for sample in by_task["disease_diagnosis"]:
        has_lesion = bool(lesions(pixels(sample)))
        assert has_lesion == (sample.answer_text != "Normal"), sample.id
    for sample in by_task["lesion_grading"]:
        assert GRADES[len(lesions(pixels(sample)))] == sample.answer_text, sample.id
    for sample in by_task["other_biological_attributes"]:
        (area,) = lesions(pixels(sample))
        size = min(SIZES, key=lambda name: abs(np.pi * SIZES[name] ** 2 - area))
        assert size == sample.answer_text, sample.id
    for sample in by_task["anatomy_identification"]:
        quadrant = marker_quadrant(pixels(sample))
        assert quadrant is not None and ANATOMY[sample.modality][quadrant] == sample.answer_text, sample.id


def test_modalities_are_told_apart_by_their_look(sample_report):
    """Nearest-centroid on 16x16 thumbnails recognises every image's modality."""
    thumbs, labels = [], []
    for sample in sample_report.samples:
        image = pixels(sample).astype(np.float64)
        thumbs.append(image.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3)).ravel())
        labels.append(sample.modality)
    thumbs = np.stack(thumbs)
    names = sorted(set(labels))
    centroids = np.stack([thumbs[[l == n for l in labels]].mean(axis=0) for n in names])
    predicted = [names[int(np.argmin(((centroids - t) ** 2).sum(axis=1)))] for t in thumbs]
    assert predicted == labels
    recognition = [s for s in sample_report.samples if s.task == "modality_recognition"]
    assert Counter(s.modality for s in recognition) == {m: 20 for m in names}


def test_options_come_in_random_order_and_answers_are_spread_within_each_cell(sample_report):
    """The letter carries little: no letter is right far more often than chance in any question type,
    and the answers themselves are balanced (lesion present in half, each grade and size alike)."""
    samples = sample_report.samples
    by_task: dict[str, list] = {}
    for s in samples:
        by_task.setdefault(s.task, []).append(s)
    for task, items in by_task.items():
        chance = sum(1 / len(s.options) for s in items) / len(items)
        top = Counter(s.answer for s in items).most_common(1)[0][1] / len(items)
        assert top < chance + 0.1, (task, top, chance)
        orders = Counter(tuple(s.options.values()) for s in items if s.task != "modality_recognition")
        assert task == "modality_recognition" or len(orders) > 1  # not one fixed order
    texts = Counter(s.answer_text for s in by_task["lesion_grading"])
    assert set(texts.values()) == {40}
    assert Counter(s.answer_text for s in by_task["disease_diagnosis"])["Normal"] == 80
