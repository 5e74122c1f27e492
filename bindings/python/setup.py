"""Builds the tokenforge wheel: the pure-Python package plus libtokenforge.so, copied from
the checkout's target/release (or $TOKENFORGE_LIBRARY) into tokenforge/_native/ at build time.
The wheel is tagged for this platform (py3-none-<platform>): it holds a native library but
no Python extension, so it fits every CPython 3."""

import os
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
#: The checkout (bindings/python is two levels down); run-tests.sh builds from a copy.
ROOT = Path(os.environ.get("TOKENFORGE_ROOT") or HERE.parent.parent)


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def library() -> Path:
    path = Path(os.environ.get("TOKENFORGE_LIBRARY") or ROOT / "target" / "release" / "libtokenforge.so")
    if not path.is_file():
        raise SystemExit(f"tokenforge: {path} is missing; run `make lib` in {ROOT} first")
    return path


class BuildPy(build_py):
    """Copies the shared library into the package being built."""

    def run(self) -> None:
        super().run()
        native = Path(self.build_lib) / "tokenforge" / "_native"
        native.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library(), native / "libtokenforge.so")
        os.chmod(native / "libtokenforge.so", 0o755)


class PlatformWheel(bdist_wheel):
    """A wheel for this platform, for any Python 3 (no extension module, no ABI tag)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):  # noqa: ANN201
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(version=version(), cmdclass={"build_py": BuildPy, "bdist_wheel": PlatformWheel})
