"""Print the OpenAPI document of the app (``make openapi`` writes it to openapi/openapi.json)."""

from __future__ import annotations

import json
import sys


def render() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
