"""Test-only crash points: a process with SIGHTLINE_TEST_CRASH_AT=<name> kills itself
with SIGKILL when it reaches `crash_point(<name>)`.

Off unless the variable is set. Fault tests use it to stop a worker at an exact
step of a job (no timing guesses), then check that a rerun finishes the job with
the same result as a run that was never interrupted.
"""

import os
import signal

VARIABLE = "SIGHTLINE_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
