"""The `laterality` reward: the reasoning's left/right must agree with the chosen answer.

Radiology reports that say "left lower lobe consolidation" and then choose
"Right lung pneumonia" are wrong in a way exact-match accuracy never sees. This
reward scores the agreement between the side the reasoning names and the side
of the chosen option:

>>> from medr1_core import Sample, Rollout, Completion
>>> s = Sample(id="1", question="Where is the fracture?", answer="B",
...            options={"A": "Left femur", "B": "Right femur"})
>>> c = Completion(text="", think="Cortical break in the right femoral neck.",
...                answer="B", letters=("B",), well_formed=True)
>>> laterality.fn(Rollout(s, c))
1.0
"""

from __future__ import annotations

import re

from medr1_core import Rollout, hookimpl, reward

_SIDE = re.compile(r"\b(left|right|sinistr\w*|dextr\w*)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(no|not|without|free of)\s+(\w+\s+){0,3}$", re.IGNORECASE)


def sides(text: str) -> set[str]:
    """The sides a text affirms ("left", "right"), ignoring negated mentions.

    >>> sorted(sides("Opacity in the left lung; no right-sided effusion."))
    ['left']
    """
    found = set()
    for m in _SIDE.finditer(text):
        if _NEGATED.search(text[max(0, m.start() - 40) : m.start()]):
            continue
        word = m.group(1).lower()
        found.add("left" if word.startswith(("left", "sinistr")) else "right")
    return found


@reward(name="laterality")
def laterality(rollout: Rollout) -> float | None:
    """1 if the reasoning names the same side as the chosen option, 0 if only the other side.

    Not applicable (None) when the chosen option names no side, or the
    reasoning names none.
    """
    sample, completion = rollout.sample, rollout.completion
    letter = completion.letter
    if not sample.options or letter is None or letter not in sample.options:
        return None
    chosen = sides(sample.options[letter])
    said = sides(completion.think or "")
    if len(chosen) != 1 or not said:
        return None
    return 1.0 if said == chosen else 0.0


@hookimpl
def medr1_register_rewards(register):
    register(laterality)
