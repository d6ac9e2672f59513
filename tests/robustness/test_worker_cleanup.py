"""DataLoader workers end with the run that started them, even a run killed mid-read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="parent-death signals are Linux-only")

# A run whose two workers are each stuck in a 120 s read; every worker writes its pid first.
RUN = textwrap.dedent("""
    import os, sys, time
    from reportgen.data.base import TaskDataset
    from reportgen.data.loader import iter_items

    PIDS = sys.argv[1]

    class SlowReads(TaskDataset):
        def tasks(self):
            return list(range(8))

        def run_task(self, task):
            with open(PIDS, "a") as f:
                f.write(f"{os.getpid()}\\n")
            time.sleep(120)
            return [task]

    for item in iter_items(SlowReads(), workers=2):
        pass
""")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _worker_pids(path: Path, count: int, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p) for p in path.read_text().split()] if path.exists() else []
        if len(set(pids)) >= count:
            return sorted(set(pids))
        time.sleep(0.1)
    raise AssertionError(f"workers did not start within {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_no_worker_survives_its_killed_run_by_5_seconds(tmp_path, sig):
    pids_file = tmp_path / "pids"
    run = subprocess.Popen([sys.executable, "-c", RUN, str(pids_file)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = _worker_pids(pids_file, 2)
        assert run.pid not in workers
        run.send_signal(sig)
        run.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [p for p in workers if _alive(p)]
        assert not survivors, f"workers {survivors} outlived their run"
    finally:
        run.kill()
        started = pids_file.read_text().split() if pids_file.exists() else []
        for pid in {int(p) for p in started}:
            if _alive(pid):  # only the old behaviour leaves any: do not leak them
                os.kill(pid, signal.SIGKILL)
