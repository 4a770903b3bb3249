"""Kill a process at a known point of its work, driven by events instead of the clock.

``python -m killpoint MODULE ARGS...`` runs ``python -m MODULE ARGS...`` with ``os.replace``
instrumented: every file the toolkit stores is written to a temporary name and then
``os.replace``d onto its final name (store, ``simulate --json``, embedding chunks, figures),
so "the N-th file stored" is a point of the program, not a moment in time. At the N-th
``os.replace`` whose destination matches ``KILLPOINT_MATCH`` (a glob on the destination's
name, in the directory ``KILLPOINT_DIR``) the process stops itself with ``SIGSTOP``, either
``before`` the rename (the temporary file is complete but not yet in place: the moment a kill
is most likely to corrupt a store that is not atomic) or ``after`` it (stored, not yet
fsynced). The parent (``run_to_killpoint``) learns of it from ``waitpid(WUNTRACED)`` and
SIGKILLs it; a process that finishes first is reported as not killed. Nothing is timed: the
same program and the same N give the same kill on a fast or a loaded machine.
"""

from __future__ import annotations

import fnmatch
import os
import runpy
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ENV_AT, ENV_DIR, ENV_MATCH, ENV_WHEN = "KILLPOINT_AT", "KILLPOINT_DIR", "KILLPOINT_MATCH", "KILLPOINT_WHEN"
WHEN = ("before", "after")


def _install() -> None:
    at = int(os.environ[ENV_AT])
    directory = os.path.realpath(os.environ[ENV_DIR])
    pattern = os.environ.get(ENV_MATCH, "*")
    when = os.environ.get(ENV_WHEN, "after")
    if at < 1 or when not in WHEN:
        raise SystemExit(f"killpoint: {ENV_AT} must be >= 1 and {ENV_WHEN} one of {WHEN}")
    real_replace = os.replace
    seen = 0

    def replace(src, dst, *args, **kwargs):
        nonlocal seen
        d = os.fspath(dst)
        hit = (os.path.realpath(os.path.dirname(os.path.abspath(d))) == directory
               and fnmatch.fnmatch(os.path.basename(d), pattern))
        if hit:
            seen += 1
        if hit and seen == at and when == "before":
            os.kill(os.getpid(), signal.SIGSTOP)  # the parent SIGKILLs us here
        out = real_replace(src, dst, *args, **kwargs)
        if hit and seen == at and when == "after":
            os.kill(os.getpid(), signal.SIGSTOP)
        return out

    os.replace = replace


@dataclass
class Stop:
    """How one run ended: ``killed`` at the kill point (else it exited with ``returncode``)."""

    killed: bool
    returncode: int | None
    stderr: str


def run_to_killpoint(argv: list[str], *, at: int, directory: Path, match: str = "*", when: str = "after",
                     env: dict | None = None, cwd: Path | None = None, log: Path | None = None) -> Stop:
    """Run ``python -m killpoint *argv`` (``argv`` = module and its arguments) until its ``at``-th
    ``os.replace`` onto ``directory/match`` (``when`` = before / after the rename), then SIGKILL
    its whole session. Blocks on the child's state change only (``waitpid``), never on a timer."""
    if when not in WHEN:
        raise ValueError(f"when must be one of {WHEN}, got {when!r}")
    env = dict(os.environ if env is None else env)
    env.update({ENV_AT: str(at), ENV_DIR: str(directory), ENV_MATCH: match, ENV_WHEN: when})
    tests = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join([tests, env.get("PYTHONPATH", "")])
    log = log or Path(os.devnull)
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "killpoint", *argv], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            os.killpg(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
            proc.returncode = -signal.SIGKILL  # reaped here: tell Popen, so it does not wait again
            stop = Stop(True, None, "")
        else:
            proc.returncode = os.waitstatus_to_exitcode(status)
            stop = Stop(False, proc.returncode, "")
    if log != Path(os.devnull):
        stop.stderr = log.read_text(errors="replace")
    return stop


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m killpoint MODULE [ARGS...]  (with KILLPOINT_* set)")
    _install()
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
