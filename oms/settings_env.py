"""Reading the environment for the settings: the `.env` file, the yes/no and
list readers, and DEBUG, imported by oms/settings.py and the settings modules
beside it, so that each reads the environment after `.env` is read."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

# A `.env` file beside manage.py (or the file ENV_FILE names; see
# .env.example) fills in what the environment does not set: a variable set in
# the environment wins.
ENV_FILE = Path(os.environ.get("ENV_FILE") or BASE_DIR / ".env")
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


# Off unless asked for: `make demo`, the tests and the benchmarks set it.
DEBUG = env_bool("DEBUG", default=False)
