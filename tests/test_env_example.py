"""`.env.example` lists every variable the settings and the deployment read.

The names are read off the code (every `os.environ.get("…")`, `os.environ["…"]`,
`os.getenv`, `env_bool` and `env_list` with a literal name), so a new setting
without a line in `.env.example` fails here.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a deployment configures: the settings (oms/settings.py and each
# settings_<subject>.py beside it), the project's own database server for the
# demo, and gunicorn.
SETTINGS = sorted(path.name for path in (ROOT / "oms").glob("settings*.py"))
READERS = [*(f"oms/{name}" for name in SETTINGS), "oms/devdb.py", "gunicorn.conf.py"]
# Read by the code but set only by the test suite or by a command for its own
# child processes, never by a deployment.
NOT_FOR_DEPLOYMENTS = {"DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER"}
READING_FUNCTIONS = {"env_bool", "env_list", "getenv", "get"}


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def names_read(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if isinstance(func, ast.Name) and func.id in {"env_bool", "env_list"}:
                names.add(first.value)
            elif isinstance(func, ast.Attribute) and func.attr in READING_FUNCTIONS:
                owner = func.value
                # os.environ.get, os.getenv, or a copy of the environment
                # (`environment = dict(os.environ)`, oms/devdb.py).
                if _is_environ(owner) or (
                    isinstance(owner, ast.Name) and owner.id in {"os", "environment"}
                ):
                    names.add(first.value)
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def names_listed(text: str) -> set[str]:
    """Each `NAME=` line of the example, commented out or not."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_names_read_off_the_code():
    """The reader finds names in each form the settings use."""
    source = (
        'import os\nA = os.environ.get("ONE", "1")\nB = os.environ["TWO"]\n'
        'C = env_bool("THREE")\nD = env_list(\n    "FOUR"\n)\nE = os.getenv("FIVE")\n'
        'F = {}.get("NOT_ENV")\n'
    )
    assert names_read(source) == {"ONE", "TWO", "THREE", "FOUR", "FIVE"}


def test_every_variable_read_is_in_the_example():
    assert {"settings.py", "settings_env.py", "settings_ops.py"} <= set(SETTINGS)
    read = set()
    for path in READERS:
        read |= names_read((ROOT / path).read_text())
    read -= NOT_FOR_DEPLOYMENTS
    listed = names_listed((ROOT / ".env.example").read_text())
    assert len(read) > 50
    assert sorted(read - listed) == []
    assert sorted(listed - read) == []


def test_the_env_file_fills_in_what_the_environment_does_not_set(tmp_path):
    """Settings read the file ENV_FILE names (`.env` by default); a variable
    set in the environment wins over the file."""
    import json
    import os
    import subprocess
    import sys

    env_file = tmp_path / "oms.env"
    env_file.write_text(
        "OMS_DEFAULT_CURRENCY=EUR\nOMS_INBOX_BATCH=7\n# OMS_OUTBOX_TIMEOUT=99\n"
    )
    environment = {
        **os.environ,
        "ENV_FILE": str(env_file),
        "OMS_INBOX_BATCH": "12",
        "DJANGO_SETTINGS_MODULE": "oms.settings",
    }
    environment.pop("OMS_DEFAULT_CURRENCY", None)
    environment.pop("OMS_OUTBOX_TIMEOUT", None)
    code = (
        "import json; from django.conf import settings; print(json.dumps(["
        "settings.OMS_DEFAULT_CURRENCY, settings.OMS_INBOX_BATCH,"
        " settings.OMS_OUTBOX_TIMEOUT]))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(finished.stdout.strip().splitlines()[-1]) == ["EUR", 12, 10.0]
