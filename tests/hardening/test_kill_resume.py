"""kill -9 at random moments during training, restart until done: bit-identical to an uninterrupted run.

The longer run is `python bench/kill_resume.py --kills 20`.
"""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO


def test_three_random_kills_reach_the_uninterrupted_parameters() -> None:
    result = subprocess.run([sys.executable, "bench/kill_resume.py", "--kills", "3", "--seed", "7"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kills" in result.stdout
    assert "final parameters bit-identical, learning-rate file identical" in result.stdout
