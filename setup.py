"""Build hook: compile the scoring engine's hot modules with mypyc.

The engine is plain, type-checked Python; mypyc turns app/engine/{formula,rules,scoring}.py
and the ruleset/vocabulary modules into C extensions (about twice as fast). Set JIXIAO_PURE_PYTHON=1 to skip compilation;
without a C compiler the build falls back to pure Python by itself.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from setuptools import setup

HOT = ["app/engine/formula.py", "app/engine/rules.py", "app/engine/scoring.py", "app/engine/ruleset.py", "app/engine/facts.py"]


def _have_compiler() -> bool:
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc")
    return shutil.which(cc.split()[0]) is not None


def _ext_modules() -> list[object]:
    if os.environ.get("JIXIAO_PURE_PYTHON"):
        return []
    if not _have_compiler():
        print("jixiao: no C compiler found; building the engine as pure Python", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify

        return list(mypycify(["--config-file", "mypyc.ini", *HOT], opt_level="3"))
    except Exception as exc:  # noqa: BLE001 - any failure means: ship pure Python
        print(f"jixiao: building the engine as pure Python ({exc})", file=sys.stderr)
        return []


setup(ext_modules=_ext_modules())
