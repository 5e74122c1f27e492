"""The package's type hints (it ships py.typed) check with mypy, as installed."""

from __future__ import annotations

import subprocess
import sys


def test_the_installed_package_type_checks(tmp_path):
    try:
        import mypy  # noqa: F401
    except ImportError:  # run-tests.sh installs it beside pytest
        raise AssertionError("mypy is not installed in this environment (pip install mypy)") from None
    run = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), "-p", "tokenforge"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success" in run.stdout
