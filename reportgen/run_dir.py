"""The run directory as a unit: one run at a time, outputs published together, artifacts
checked before they are trusted.

* ``RunLock``: ``.reportgen.lock`` names the run that holds the directory (pid, start time);
  a second run gets a one-line error; a lock left by a dead process is taken over.
* ``Staging``: a run writes its data files into a hidden staging folder inside the run
  directory, then moves them in (``publish``), run.json last: a killed run leaves the
  previous run's outputs whole, never a mix of two runs.
* ``artifact_hashes`` / ``verify_artifacts``: run.json records the sha256 of every artifact;
  ``render`` refuses a changed one (naming it) unless told to allow it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from reportgen.errors import ReportgenError

LOCK_FILE = ".reportgen.lock"
STAGING_PREFIX = ".staging-"
ARTIFACTS = ("scores.parquet", "stats.csv", "exclusions.csv", "facts.json", "narrative.json",
             "gallery.npz")


def check_writable(out_dir: str | Path) -> Path:
    """``out_dir`` as a directory this process can write, created if missing; a one-line
    ReportgenError when it is a file, under a file, or not writable (checked before work)."""
    out = Path(out_dir)
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise ReportgenError(f"--out {out}: {parent} is a file, not a directory")
        if parent.exists():
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportgenError(f"--out {out}: cannot create it ({exc.strerror})") from None
    probe = out / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportgenError(f"--out {out}: not writable ({exc.strerror})") from None
    return out


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """Exclusive use of a run directory for the ``with`` block (see the module docstring)."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK_FILE

    def __enter__(self) -> RunLock:
        line = (f"pid {os.getpid()} on {socket.gethostname()}, started "
                f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n")
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # stale: its process is gone
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    continue
                raise ReportgenError(f"{self.path.parent} is in use by another reportgen run "
                                     f"({holder}); wait for it or choose another --out"
                                     ) from None
            with os.fdopen(fd, "w") as handle:
                handle.write(line)
            return self
        raise ReportgenError(f"{self.path}: could not take the run directory's lock")

    def _holder(self) -> str | None:
        """The holder's description when its process still runs on this host, else None."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        parts = text.split()
        try:
            pid = int(parts[1])
            host = parts[3].rstrip(",")
        except (IndexError, ValueError):
            return None  # unreadable: treat as stale
        if host != socket.gethostname():
            return text  # another machine's run: cannot tell, so respect it
        return text if pid != os.getpid() and process_alive(pid) else None

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Staging:
    """A hidden folder in the run directory where a run writes its files before ``publish``
    moves them in; removed on exit whatever happened."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / f"{STAGING_PREFIX}{os.getpid()}"

    def __enter__(self) -> Staging:
        for old in self.out_dir.glob(f"{STAGING_PREFIX}*"):  # left by a killed run
            shutil.rmtree(old, ignore_errors=True)
        self.path.mkdir(parents=True)
        return self

    def publish(self, last: Iterable[str] = ()) -> list[str]:
        """Move every staged file into the run directory (``last`` after the others)."""
        last = list(last)
        names = sorted(p.name for p in self.path.iterdir() if p.is_file())
        ordered = [n for n in names if n not in last] + [n for n in last if n in names]
        for name in ordered:
            os.replace(self.path / name, self.out_dir / name)
        return ordered

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_hashes(directory: str | Path, names: Iterable[str] = ARTIFACTS) -> dict[str, str]:
    """sha256 of each artifact present in ``directory``."""
    directory = Path(directory)
    return {n: sha256_file(directory / n) for n in names if (directory / n).is_file()}


def verify_artifacts(run_dir: str | Path, recorded: dict[str, str]) -> list[str]:
    """The recorded artifacts that changed or vanished since the run wrote them."""
    run_dir = Path(run_dir)
    return [n for n, h in sorted(recorded.items())
            if not (run_dir / n).is_file() or sha256_file(run_dir / n) != h]


@contextlib.contextmanager
def exclusive(out_dir: str | Path) -> Iterator[Path]:
    """The run directory, checked writable and locked for the block."""
    out = check_writable(out_dir)
    with RunLock(out):
        yield out
