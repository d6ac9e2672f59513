"""The run directory as a unit: a lock per run, staged publishing, checked artifacts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reportgen.errors import ReportgenError
from reportgen.run_dir import (
    LOCK_FILE,
    RunLock,
    Staging,
    artifact_hashes,
    check_writable,
    verify_artifacts,
)


def test_a_second_run_on_a_locked_directory_gets_a_one_line_error(tmp_path):
    with RunLock(tmp_path):
        line = (tmp_path / LOCK_FILE).read_text()
        assert f"pid {os.getpid()}" in line
        child = subprocess.run(
            [sys.executable, "-c", "from reportgen.run_dir import RunLock\n"
             f"RunLock({str(tmp_path)!r}).__enter__()"], capture_output=True, text=True)
        assert child.returncode != 0
        message = child.stderr.strip().splitlines()[-1]
        assert "is in use by another reportgen run" in message
        assert f"pid {os.getpid()}" in message and "started" in message
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket
    (tmp_path / LOCK_FILE).write_text(f"pid {dead.pid} on {socket.gethostname()}, started "
                                      "2026-01-01 00:00:00 UTC\n")
    with RunLock(tmp_path):
        assert f"pid {os.getpid()}" in (tmp_path / LOCK_FILE).read_text()


def test_staged_files_appear_together_and_a_failed_run_leaves_the_old_ones(tmp_path):
    (tmp_path / "facts.json").write_text("old")
    (tmp_path / "run.json").write_text("old")
    with pytest.raises(RuntimeError), Staging(tmp_path) as staging:
        (staging.path / "facts.json").write_text("new")
        raise RuntimeError("killed mid-run")
    assert (tmp_path / "facts.json").read_text() == "old"  # nothing half-published
    assert not list(tmp_path.glob(".staging-*"))
    with Staging(tmp_path) as staging:
        (staging.path / "facts.json").write_text("new")
        (staging.path / "run.json").write_text("new")
        assert staging.publish(last=["run.json"]) == ["facts.json", "run.json"]
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"facts.json": "new",
                                                                  "run.json": "new"}


def test_out_that_is_a_file_or_under_one_is_refused_before_any_work(tmp_path):
    afile = tmp_path / "report.txt"
    afile.write_text("x")
    with pytest.raises(ReportgenError, match="is a file, not a directory"):
        check_writable(afile)
    with pytest.raises(ReportgenError, match="is a file, not a directory"):
        check_writable(afile / "run")
    assert check_writable(tmp_path / "new" / "run").is_dir()


def test_changed_and_missing_artifacts_are_named(tmp_path):
    (tmp_path / "facts.json").write_text("{}")
    (tmp_path / "stats.csv").write_text("a,b\n")
    recorded = artifact_hashes(tmp_path)
    assert set(recorded) == {"facts.json", "stats.csv"}
    assert verify_artifacts(tmp_path, recorded) == []
    (tmp_path / "facts.json").write_text('{"facts": 5}')
    (tmp_path / "stats.csv").unlink()
    assert verify_artifacts(tmp_path, recorded) == ["facts.json", "stats.csv"]
