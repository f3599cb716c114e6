"""The engine's hot modules may be compiled in place with mypyc (setup.py). A compiled module
shadows its .py: if the .py was edited after the build, every test here would be testing the old code."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

HOT = ["app.engine.formula", "app.engine.rules", "app.engine.scoring"]


@pytest.mark.parametrize("name", HOT)
def test_loaded_engine_module_is_current(name: str) -> None:
    module = importlib.import_module(name)
    loaded = Path(module.__file__ or "")
    source = loaded.parent / (name.rsplit(".", 1)[1] + ".py")
    assert source.exists(), source
    if loaded == source:
        return  # pure Python: the source is what runs
    assert loaded.suffix in {".so", ".pyd"}, loaded
    assert loaded.stat().st_mtime >= source.stat().st_mtime, (
        f"{loaded.name} is older than {source.name}: the compiled engine is stale and shadows the edited "
        f"source — rebuild it (see setup.py), or delete the .so to run the pure-Python module"
    )
