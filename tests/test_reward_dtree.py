"""The dtree reward: shipped trees, negation, fuzzy terms, scoring rules, scope."""

import pytest

from medr1_core import Modality, hookimpl
from medr1_core import plugins as plugins_mod
from medr1_core.parsing import make_rollouts
from medr1_core.plugins import get_plugins, load_plugins
from medr1_core.rewards import RewardParamsError
from medr1_core.samples import Sample
from medr1_plugins.rewards import dtree_rules
from medr1_plugins.rewards.dtree_rules import TreeError
from medr1_plugins.rewards.dtree_text import TermMatcher


@pytest.fixture(scope="module")
def dtree():
    return get_plugins().rewards.get("dtree")()


def score(reward, sample, pairs, variant="think"):
    if variant == "nothink":
        texts = [f"<answer>{a}</answer>" for _t, a in pairs]
    else:
        texts = [f"<think>{t}</think>\n<answer>{a}</answer>" for t, a in pairs]
    return reward.score(make_rollouts([sample] * len(texts), texts, variant))


CXR = Sample(id="cxr", question="What specific condition is depicted in this chest X-ray?",
             options={"A": "COVID-19", "B": "Pneumonia", "C": "Normal", "D": "Pulmonary fibrosis"},
             answer="B", modality="xray", task="disease_diagnosis")
LOBAR = "Dense lobar consolidation with air bronchograms in the right lower lobe; no pleural effusion."


def test_reasoning_supporting_the_correct_answer_scores_one(dtree):
    assert score(dtree, CXR, [(LOBAR, "B"), (LOBAR, "Pneumonia")]) == [1.0, 1.0]


def test_reasoning_supporting_a_different_answer_scores_zero(dtree):
    # the findings say pneumonia, the answer says normal / covid
    assert score(dtree, CXR, [(LOBAR, "C"), (LOBAR, "A")]) == [0.0, 0.0]
    # the findings say normal, the (correct) answer says pneumonia
    assert score(dtree, CXR, [("The lungs are clear; no consolidation or effusion.", "B")]) == [0.0]


def test_consistent_but_wrong_uses_its_parameter(dtree):
    normal = "The lungs are clear; no consolidation or effusion."
    assert score(dtree, CXR, [(normal, "C")]) == [0.0]
    lenient = get_plugins().rewards.get("dtree")({"wrong_but_consistent": 0.25})
    assert score(lenient, CXR, [(normal, "C")]) == [0.25]


def test_negated_findings_are_not_mentions(dtree):
    negated = [
        "There is no consolidation and no opacity; the lungs are clear.",
        "Consolidation is absent. Opacity is not seen.",
        "Without consolidation or airspace opacity, this rules out pneumonia.",
    ]
    for text in negated:
        verdict = dtree.verdicts(make_rollouts([CXR], [f"<think>{text}</think><answer>C</answer>"])[0])[0]
        assert "consolidation" not in verdict.present, text
        assert verdict.conclusion == "normal", text


def test_partial_credit_by_depth(dtree):
    # opacity described, but neither COVID's distribution nor a lobar pattern: undecided
    vague = "There is some opacity in both lungs."
    assert score(dtree, CXR, [(vague, "B")]) == [pytest.approx(0.25)]  # 0.5 x half the positive tests
    assert score(dtree, CXR, [(vague, "A")]) == [0.0]  # undecided and wrong
    stingy = get_plugins().rewards.get("dtree")({"partial_credit": 0})
    assert score(stingy, CXR, [(vague, "B")]) == [0.0]


def test_reasoning_with_no_relevant_finding_scores_zero(dtree):
    assert score(dtree, CXR, [("I looked at the picture carefully.", "B")]) == [0.0]


def test_no_reasoning(dtree):
    assert score(dtree, CXR, [("", "B")]) == [0.0]
    assert score(dtree, CXR, [("", "B")], variant="nothink") == [None]


@pytest.mark.parametrize(
    "change",
    [{"modality": "ct"}, {"task": "anatomy_identification"},
     {"question": "Which side is the heart on?"},
     {"options": {"A": "Liver", "B": "Spleen"}, "answer": "A"}],
)
def test_no_tree_applies_gives_none(dtree, change):
    fields = {**CXR.to_dict(), **change}
    fields.pop("images"), fields.pop("extras")
    sample = Sample(**fields)
    assert score(dtree, sample, [(LOBAR, "B")]) == [None]


def test_yes_no_questions_map_through_the_question(dtree):
    ct = Sample(id="ct", question="Is this CT scan image indicative of COVID-19?", options={"A": "No", "B": "Yes"},
                answer="B", modality="ct", task="disease_diagnosis")
    typical = "Bilateral peripheral ground-glass opacities with crazy paving."
    assert score(dtree, ct, [(typical, "B"), (typical, "A"), ("The lungs are clear.", "B")]) == [1.0, 0.0, 0.0]
    normal_q = Sample(id="n", question="Is there any deviation from the normal in this image?",
                      options={"A": "Yes.", "B": "No, It's normal"}, answer="B", modality="xray",
                      task="disease_diagnosis")
    clear = "Clear lung fields without consolidation."
    assert score(dtree, normal_q, [(clear, "B"), (clear, "A"), (LOBAR, "A")]) == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "sample,good,bad",
    [
        (Sample(id="dr", question="What is the severity of diabetic retinopathy in this image?",
                options={"A": "No diabetic retinopathy.", "B": "Mild diabetic retinopathy.",
                         "C": "Moderate diabetic retinopathy.", "D": "Proliferative diabetic retinopathy."},
                answer="C", modality="fundus", task="lesion_grading"),
         ("Dot and blot haemorrhages with hard exudates; no neovascularisation.", "C"),
         ("Only a few microaneurysms.", "C")),
        (Sample(id="kl", question="What is the Kellgren-Lawrence grade of this knee?",
                options={"A": "Grade 0", "B": "Grade 2", "C": "Grade 3", "D": "Grade 4"},
                answer="C", modality="xray", task="lesion_grading"),
         ("Definite joint space narrowing with multiple osteophytes and subchondral sclerosis.", "C"),
         ("Doubtful joint space narrowing only.", "C")),
        (Sample(id="derm", question="Is the abnormality in this image benign or malignant?",
                options={"A": "Benign image.", "B": "Malignant"}, answer="B", modality="dermoscopy",
                task="disease_diagnosis"),
         ("Asymmetric lesion with irregular borders and a blue-white veil.", "B"),
         ("Symmetric lesion with a uniform colour and a regular pigment network.", "B")),
        (Sample(id="mammo", question="What type of abnormality is depicted in this breast image?",
                options={"A": "A tumor", "B": "No, It's normal", "C": "Infection"}, answer="A", modality="xray",
                task="disease_diagnosis"),
         ("A spiculated mass with architectural distortion.", "A"),
         ("Normal fibroglandular tissue; no mass.", "A")),
        (Sample(id="mod", question="What imaging technique is utilized to capture this picture?",
                options={"A": "X-ray", "B": "MRI", "C": "Echocardiogram", "D": "Mammography"}, answer="D",
                modality="xray", task="modality_recognition"),
         ("Craniocaudal view of breast tissue; not an MRI.", "D"),
         ("A T2-weighted image with hyperintense signal.", "D")),
    ],
    ids=["fundus_dr_icdr", "knee_oa_kl", "dermoscopy_melanoma_abcd", "mammography_birads", "modality_cues"],
)
def test_each_shipped_tree(dtree, sample, good, bad):
    assert score(dtree, sample, [good, bad]) == [1.0, 0.0]


def test_modality_cues_cover_all_eight_modalities(dtree):
    cues = {
        "CT": "Hyperdense areas on a soft tissue window, measured in Hounsfield units.",
        "MRI": "A FLAIR sequence with hyperintense signal.",
        "X-ray": "A projection radiograph with radiopaque bones.",
        "Ultrasound": "Hypoechoic areas with acoustic shadowing from the transducer.",
        "Dermoscopy": "A pigment network on the skin surface.",
        "Fundus photography": "The optic disc and macula are visible.",
        "OCT": "The retinal layers and the RPE are seen in cross-section.",
        "Microscopy": "Stained cells with nuclei at high magnification.",
    }
    options = {letter: text for letter, text in zip("ABCDEFGH", cues)}
    for letter, text in options.items():
        sample = Sample(id=letter, question="Which imaging modality is this?", options=options, answer=letter,
                        modality=None, task="modality_recognition")
        assert score(dtree, sample, [(cues[text], letter)]) == [1.0], text


def test_term_matcher_fuzzy_and_guards():
    m = TermMatcher(["consolidation", "normal", "symmetry", "hemorrhage", "ground-glass opacity", "oedema"])
    found = lambda text: {m.terms[t] for t in m.match(text)}  # noqa: E731
    assert found("consolidaton in the left lung") == {"consolidation"}  # typo
    assert found("multiple haemorrhages") == {"hemorrhage"}  # British spelling, plural
    assert found("ground glass opacities") == {"ground-glass opacity"}
    assert found("edema") == {"oedema"}
    assert found("abnormal appearance") == set()  # not 'normal'
    assert found("marked asymmetry") == set()  # not 'symmetry'
    exact = TermMatcher(["consolidation"], fuzzy_threshold=100)
    assert exact.match("consolidaton") == {}


@pytest.mark.parametrize(
    "text,negated",
    [
        ("no consolidation", True), ("without consolidation", True), ("consolidation is absent", True),
        ("this rules out consolidation", True), ("negative for consolidation", True),
        ("the lungs do not show consolidation", True), ("consolidation is not seen", True),
        ("pneumonia rather than consolidation", True), ("absence of consolidation", True),
        ("no effusion, but there is consolidation", False), ("no effusion. Consolidation is present", False),
        ("no effusion, there is consolidation", False), ("cannot rule out consolidation", False),
        ("consolidation cannot be excluded", False), ("not only consolidation but effusion", False),
        ("No, consolidation is present", False), ("consolidation is present, effusion absent", False),
        ("consolidation", False),
    ],
)
def test_negation(text, negated):
    m = TermMatcher(["consolidation", "effusion"])
    tid = m.term_id("consolidation")
    aff, neg = m.match(text)[tid]
    assert (neg and not aff) == negated


def test_user_trees_and_only(tmp_path):
    tree = tmp_path / "laterality.yaml"
    tree.write_text(
        "scope: {tasks: [anatomy_identification]}\n"
        "findings: {left: [left side, left], right: [right side, right]}\n"
        "conclusions: {left: [left], right: [right]}\n"
        "nodes:\n"
        "  - {id: l, if: {finding: left}, then: {conclude: left}, else: r}\n"
        "  - {id: r, if: {finding: right}, then: {conclude: right}}\n"
    )
    reward = get_plugins().rewards.get("dtree")({"trees": [str(tmp_path)], "only": ["laterality"]})
    assert [t.id for t in reward.trees] == ["laterality"]
    sample = Sample(id="s", question="Which side is the lesion on?", options={"A": "Left", "B": "Right"},
                    answer="A", task="anatomy_identification")
    assert score(reward, sample, [("The lesion is on the left side.", "A"),
                                  ("The lesion is on the right.", "A")]) == [1.0, 0.0]
    with pytest.raises(TreeError, match="unknown tree\\(s\\) nope"):
        get_plugins().rewards.get("dtree")({"only": ["nope"]})
    with pytest.raises(RewardParamsError, match="parameter 'trees'.*no such tree file"):
        get_plugins().rewards.get("dtree")({"trees": [str(tmp_path / "missing.yaml")]})


def test_invalid_user_tree_fails_at_construction_naming_file_and_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scope: {}\nfindings: {a: [alpha]}\nconclusions: {c: [gamma]}\n"
        "nodes:\n  - {id: n, if: {any: [{finding: b}]}, then: {conclude: c}}\n"
    )
    with pytest.raises(TreeError, match=r"bad.yaml: \$\.nodes\[0\]\.if\.any\[0\]\.finding: unknown finding 'b'"):
        get_plugins().rewards.get("dtree")({"trees": [str(bad)], "shipped": False})


def test_modality_default_trees_extend_a_tree_scope(tmp_path, monkeypatch):
    class PetPlugin:
        @hookimpl
        def medr1_register_modalities(register):
            register(Modality(id="pet", name="PET", default_trees=("cxr_pneumonia_covid",)))

    plugins = load_plugins(extra=[("pet", PetPlugin)])
    monkeypatch.setattr(plugins_mod, "_PLUGINS", plugins)
    reward = plugins.rewards.get("dtree")({"only": ["cxr_pneumonia_covid"]})
    pet = Sample(**{**{k: v for k, v in CXR.to_dict().items() if k not in ("images", "extras")}, "modality": "pet"})
    ct = Sample(**{**{k: v for k, v in CXR.to_dict().items() if k not in ("images", "extras")}, "modality": "ct"})
    assert score(reward, pet, [(LOBAR, "B")]) == [1.0]
    assert score(reward, ct, [(LOBAR, "B")]) == [None]


def test_trees_load_once_per_reward(monkeypatch):
    reward = get_plugins().rewards.get("dtree")()

    def no_loading(*args, **kwargs):
        raise AssertionError("trees reloaded while scoring")

    monkeypatch.setattr(dtree_rules, "load_tree", no_loading)
    monkeypatch.setattr(dtree_rules, "load_trees", no_loading)
    assert score(reward, CXR, [(LOBAR, "B")] * 3) == [1.0] * 3


def test_an_option_negating_a_conclusion_stands_for_the_others(dtree):
    sample = Sample(id="neg", question="What does this chest X-ray show?",
                    options={"A": "COVID-19 negative", "B": "COVID-19 positive"}, answer="A", modality="xray",
                    task="disease_diagnosis")
    clear = "The lungs are clear without consolidation."
    typical = "Bilateral peripheral ground-glass opacities in the lower zones."
    assert score(dtree, sample, [(clear, "A"), (typical, "A"), (clear, "B")]) == [1.0, 0.0, 0.0]
