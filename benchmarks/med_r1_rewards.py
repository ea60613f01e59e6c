"""Med-R1's own reward functions, as a whole process scoring a `medr1 rewards score` input file.

The baseline of ``bench_rewards.py``'s whole-process comparison. The two
functions behave as Med-R1's (github.com/Yuxiang-Lai117/Med-R1, commit 88d76c7,
``src/r1-v/src/open_r1/grpo_vqa.py``; R1-V's, from TRL's open-r1), written
here from that source (not copied):

- ``accuracy_reward(completions, solution)``: for each TRL conversational
  completion (``completion[0]["content"]``), ``math_verify.verify(parse(content),
  parse(solution))`` first; if that gives no reward, the text of the first
  ``<answer>...</answer>`` (stripped; the whole content without one) equals the
  solution's (``"<answer> B </answer>"`` as in Med-R1's split files); 1.0 or 0.0.
  Errors count as no match. (Their debug logging, off unless ``DEBUG_MODE=true``,
  is left out.)
- ``format_reward(completions)``: ``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>",
  content, re.DOTALL)``.

The process reads the same JSONL file ``medr1 rewards score`` reads (the
standard library's ``json``, a line at a time, as a training script's data
loading would), builds each completion and solution as Med-R1's trainer hands
them to the reward functions, scores in batches, and writes one JSON line of
scores per input line::

    python benchmarks/med_r1_rewards.py completions.jsonl scores.jsonl [--no-math-verify] [--batch 1024]

``--no-math-verify`` runs the exact-match fallback alone (what the earlier
"R1-V" baseline was).
"""

from __future__ import annotations

import argparse
import json
import re
import sys

ANSWER = re.compile(r"<answer>(.*?)</answer>")
FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def _exact(content: str, sol: str) -> bool:
    sol_match = ANSWER.search(sol)
    ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
    content_match = ANSWER.search(content)
    student_answer = content_match.group(1).strip() if content_match else content.strip()
    return student_answer == ground_truth


def make_accuracy_reward(math_verify: bool = True):
    """Med-R1's ``accuracy_reward`` (``math_verify=False``: only its string fallback)."""
    if math_verify:
        from math_verify import parse, verify

    def accuracy_reward(completions, solution, **kwargs):
        contents = [completion[0]["content"] for completion in completions]
        rewards = []
        for content, sol in zip(contents, solution):
            reward = 0.0
            if math_verify:
                try:
                    if float(verify(parse(content), parse(sol))) > 0:
                        reward = 1.0
                except Exception:  # noqa: BLE001 - as Med-R1: fall through to string matching
                    pass
            if reward == 0.0:
                try:
                    reward = 1.0 if _exact(content, sol) else 0.0
                except Exception:  # noqa: BLE001
                    pass
            rewards.append(reward)
        return rewards

    return accuracy_reward


def format_reward(completions, **kwargs):
    """Med-R1's ``format_reward``: the whole content is think-then-answer."""
    contents = [completion[0]["content"] for completion in completions]
    return [1.0 if FORMAT.fullmatch(content) else 0.0 for content in contents]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--no-math-verify", action="store_true", help="the exact-match fallback alone")
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args(argv)
    accuracy_reward = make_accuracy_reward(not args.no_math_verify)

    def flush(ids, completions, solutions, out):
        acc = accuracy_reward(completions, solutions)
        fmt = format_reward(completions)
        for i, a, f in zip(ids, acc, fmt):
            out.write(json.dumps({"id": i, "rewards": {"format": f, "accuracy": a}, "total": f + a}) + "\n")

    with open(args.input, encoding="utf-8") as src, open(args.output, "w", encoding="utf-8") as out:
        ids, completions, solutions = [], [], []
        for line in src:
            if not line.strip():
                continue
            row = json.loads(line)
            text = row["completion"]
            content = text if isinstance(text, str) else text[-1]["content"]
            ids.append(row.get("id"))
            completions.append([{"role": "assistant", "content": content}])
            solutions.append(f"<answer> {row['answer']} </answer>")
            if len(ids) >= args.batch:
                flush(ids, completions, solutions, out)
                ids, completions, solutions = [], [], []
        flush(ids, completions, solutions, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
