"""The README's quick start is a contract: exactly two commands, and CI runs the test one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quick start has no bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_quick_start_has_exactly_two_commands_and_they_exist() -> None:
    commands = quick_start_commands()
    assert commands == ["python3 scripts/run_notebooks.py", "python3 scripts/test.py"]
    for command in commands:
        assert (ROOT / command.split()[1]).exists()


# The one thing CI does before the test command: install the browser tests' Chromium when it is missing.
CI_CHROMIUM = ("command -v chromium >/dev/null || "
               "(apt-get update && apt-get install -y --no-install-recommends chromium)")


def test_ci_runs_the_readme_test_command_and_nothing_else() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    commands = [line for line in lines if not line.startswith(("set ", "cd "))]
    assert commands == [CI_CHROMIUM, f"exec {quick_start_commands()[1]}"]
