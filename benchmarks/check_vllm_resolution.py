"""Does ``pip install 'medr1[vllm]'`` resolve, with a vLLM that TRL supports? Asks pip, prints what it would install.

Runs ``pip install --dry-run --ignore-installed --report`` on this checkout's ``.[vllm]`` (as a
fresh environment would see it: nothing installed counts, no constraints file), against the
package index pip is configured for, and prints the versions it chose for vllm, torch,
torchvision, transformers, trl and accelerate, and the vLLM range the chosen TRL declares in its
own ``vllm`` extra. Exit status 0 when it resolves and the vLLM lies in TRL's range, 1 otherwise.
Needs the package index (downloads metadata and a few wheels; a minute or several).

    python benchmarks/check_vllm_resolution.py [--extra vllm]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOWN = ("vllm", "torch", "torchvision", "transformers", "trl", "accelerate", "tokenizers")


def resolve(extra: str) -> tuple[int, dict | None, str]:
    """pip's dry-run report for ``.[extra]`` (or ``None`` when pip could not resolve it) and its stderr."""
    with tempfile.TemporaryDirectory(prefix="vllm-resolution-") as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", str(report), f".[{extra}]"],
            cwd=REPO, capture_output=True, text=True,
        )
        data = json.loads(report.read_text()) if proc.returncode == 0 and report.is_file() else None
    return proc.returncode, data, proc.stderr


def trl_vllm_range(installs: dict[str, dict]) -> str | None:
    """The ``vllm`` requirement of the chosen TRL's ``vllm`` extra (``vllm<=0.31.0,>=0.22.0``)."""
    for requirement in installs.get("trl", {}).get("requires_dist", []):
        name, _, marker = requirement.partition(";")
        if name.strip().startswith("vllm") and "extra" in marker and "vllm" in marker:
            return name.strip().removeprefix("vllm")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", default="vllm", help="the extra of medr1 to resolve")
    args = parser.parse_args()
    from packaging.requirements import Requirement
    from packaging.version import Version

    start = time.perf_counter()
    code, data, stderr = resolve(args.extra)
    seconds = time.perf_counter() - start
    declared = [r for r in _declared(args.extra)]
    print(f"pip install --dry-run 'medr1[{args.extra}]' (declared: {', '.join(declared) or 'nothing'}): "
          f"{'resolved' if data else 'did NOT resolve'} in {seconds:.0f} s")
    if data is None:
        lines = [line for line in stderr.splitlines() if line.strip() and "is ignored" not in line]
        print("\n".join(lines[-25:]))
        return 1
    installs = {item["metadata"]["name"].lower(): item["metadata"] for item in data["install"]}
    for name in SHOWN:
        print(f"  {name:13} {installs[name]['version'] if name in installs else '(not installed)'}")
    print(f"  ({len(installs)} distributions in all)")
    supported = trl_vllm_range(installs)
    vllm = installs.get("vllm", {}).get("version")
    if vllm is None or supported is None:
        print("vllm, or the vLLM range of TRL's vllm extra, is missing from the resolution")
        return 1
    ok = Version(vllm) in Requirement(f"vllm{supported}").specifier
    print(f"TRL {installs['trl']['version']} supports vllm{supported}: vllm {vllm} {'is' if ok else 'is NOT'} in it")
    return 0 if ok else 1


def _declared(extra: str) -> list[str]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project.get("optional-dependencies", {}).get(extra, [])


if __name__ == "__main__":
    sys.exit(main())
