"""Which notebooks `wif-lab notebooks run` picks: names and prefixes in notebooks/, or a path to any notebook."""

from __future__ import annotations

from pathlib import Path

import pytest

from wif_lab.runner import find_notebooks


def _nbs(directory: Path, *names: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("{}")
    return [directory / name for name in names]


def test_names_prefixes_and_paths(tmp_path: Path) -> None:
    okta, azure = _nbs(tmp_path / "notebooks", "01_okta.ipynb", "02_azure.ipynb")
    (elsewhere,) = _nbs(tmp_path / "bench", "empty_0.ipynb")
    directory = tmp_path / "notebooks"
    assert find_notebooks((), directory) == [okta, azure]
    assert find_notebooks(("02",), directory) == [azure]
    assert find_notebooks(("01_okta", str(elsewhere), "01_okta.ipynb"), directory) == [okta, elsewhere.resolve()]


def test_an_unknown_name_or_a_missing_path_stops_the_run(tmp_path: Path) -> None:
    _nbs(tmp_path / "notebooks", "01_okta.ipynb")
    for name in ("03", str(tmp_path / "missing.ipynb")):
        with pytest.raises(SystemExit, match="no notebook matches"):
            find_notebooks((name,), tmp_path / "notebooks")
