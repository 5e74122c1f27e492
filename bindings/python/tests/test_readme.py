"""Every python block of bindings/python/README.md (the reference pages' examples, rewritten
for the loopback server) runs as written; test_ functions a block defines are called."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_the_examples():
    assert len(BLOCKS) >= 14


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block(index, base, monkeypatch, capsys):
    monkeypatch.setenv("TOKENFORGE_URL", base)
    namespace = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    assert "cc-" not in capsys.readouterr().err  # nothing leaked a token to stderr
