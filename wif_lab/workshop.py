"""An instructor's check of a shared lab: run a notebook as several attendees at once, compare their outputs.

Each attendee gets their own kernel whose environment names the shared lab (``WIF_LAB_CONNECTION``) and
the attendee (``WIF_LAB_ATTENDEE``), exactly as JupyterHub's ``JUPYTERHUB_USER`` would. All kernels run
concurrently in one event loop. :func:`shown` reduces an executed notebook to what a reader sees per
cell, with the run-specific parts (ids, ports, times, the attendee's own name) replaced, so the outputs
of any two attendees, or of one attendee alone and twenty together, can be compared for equality.
"""

from __future__ import annotations

import asyncio
import configparser
import copy
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .attendee import ENV_ATTENDEE, ENV_KEY_DIR
from .lab import ENV_CONNECTION

SHOWN_TYPES = ("text/plain", "text/html", "text/markdown")
# What differs between attendees on one shared lab and is not a result: the ids a shared service hands out.
SHARED_LAB_IDS = (
    (r"\b(fdis|fdrl|svac)_01[A-Za-z0-9]{22}\b", r"\1_<ID>"),
    # an Okta client id, also one a difference table marked up (0oa⟦V⟧XJt…, 0oa<mark>V</mark>XJt…)
    (r"\b0oa(?:[A-Za-z0-9]|⟦[^⟧]{1,8}⟧|<mark>[^<]{1,8}</mark>){17}(?![A-Za-z0-9])", "<OKTA-CLIENT-ID>"),
)


@dataclass
class AttendeeRun:
    attendee: str
    notebook: Any  # the executed nbformat notebook
    seconds: float
    error: str = ""


def sanitizers(cfg: Path | None = None, extra: Iterable[tuple[str, str]] = SHARED_LAB_IDS) -> list[tuple[Any, str]]:
    """The nbval sanitize file's (regex, replacement) pairs, then ``extra``: the same rules nbval compares by."""
    pairs: list[tuple[str, str]] = []
    if cfg is not None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(cfg)
        pairs += [(parser[s]["regex"], parser[s]["replace"]) for s in parser.sections()]
    pairs += list(extra)
    return [(re.compile(regex), replace) for regex, replace in pairs]


def shown(notebook: Any, rules: Sequence[tuple[Any, str]], *,
          names: Mapping[str, str] | None = None) -> list[list[str]]:
    """Per code cell, the text of its outputs after sanitizing (``names``: literal text -> placeholder, applied
    first, e.g. the attendee's name). Cells tagged ``nbval-ignore-output`` count as empty, as nbval treats them."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            cells.append([])
            continue
        texts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                texts += [_text(out.data[kind]) for kind in SHOWN_TYPES if kind in out.data]
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
        cleaned = []
        for text in texts:
            for literal, placeholder in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
                text = text.replace(literal, placeholder)
            for regex, replace in rules:
                text = regex.sub(replace, text)
            cleaned.append(text)
        cells.append(cleaned)
    return cells


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def run_attendees(notebook: Path, connection_file: Path | None, attendees: Sequence[str], *, key_root: Path,
                  timeout: int = 120) -> list[AttendeeRun]:
    """Run ``notebook`` once per attendee, all at once, against the shared lab of ``connection_file`` (None: each
    kernel starts an embedded lab of its own, the laptop and Binder way)."""
    return asyncio.run(_run_all(notebook, connection_file, attendees, key_root, timeout))


async def _run_all(notebook: Path, connection_file: Path | None, attendees: Sequence[str], key_root: Path,
                   timeout: int) -> list[AttendeeRun]:
    source = nbformat.read(notebook, as_version=4)
    runs = [_run_one(copy.deepcopy(source), notebook.parent, name, connection_file, key_root, timeout)
            for name in attendees]
    return list(await asyncio.gather(*runs))


async def _run_one(nb: Any, cwd: Path, attendee: str, connection_file: Path | None, key_root: Path,
                   timeout: int) -> AttendeeRun:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .kernel import SlicedPollKernelManager

    env = {k: v for k, v in os.environ.items() if k != ENV_CONNECTION}
    env.update({ENV_ATTENDEE: attendee, ENV_KEY_DIR: str(key_root)})
    if connection_file is not None:
        env[ENV_CONNECTION] = str(connection_file)
    # IPC sockets, not TCP ports: twenty kernels starting at once would race for the free ports the client picks.
    ipc = Path(tempfile.mkdtemp(prefix="wif-lab-kernel-")) / "kernel"
    manager = SlicedPollKernelManager(kernel_name="python3", transport="ipc", ip=str(ipc))
    client = NotebookClient(nb, km=manager, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}, shutdown_kernel="immediate",
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    t0 = time.perf_counter()
    error = ""
    try:
        await client.async_execute(env=env, cwd=str(cwd))
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as exc:  # RuntimeError: no start
        error = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
    finally:
        shutil.rmtree(ipc.parent, ignore_errors=True)
    return AttendeeRun(attendee, nb, time.perf_counter() - t0, error)
