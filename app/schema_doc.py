"""Print the JSON Schema of a ruleset file (``make schemas`` writes it to rulesets/ruleset.schema.json)."""

from __future__ import annotations

import sys

from app.engine.fileformat import render_schema

if __name__ == "__main__":
    sys.stdout.write(render_schema())
