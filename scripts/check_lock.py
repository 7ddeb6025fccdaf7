"""Check that the lock files pin every dependency pyproject.toml asks for, at a
version it allows (run by `make lint`; `make lock` rewrites them).

requirements/runtime.lock (with hashes) is what a deployment installs
(`pip install --require-hashes -r requirements/runtime.lock`, then the
package with `--no-deps`); requirements/dev.lock constrains `make venv`.
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    """The name → version pins of a pip-compile lock file."""
    return {
        canonicalize_name(name): version
        for name, version in PIN.findall(path.read_text(encoding="utf-8"))
    }


def problems(requirements: list[str], lock: Path) -> list[str]:
    """What the lock file lacks or pins outside pyproject.toml's ranges."""
    pinned = pins(lock)
    found = []
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        version = pinned.get(name)
        if version is None:
            found.append(f"{lock.name}: {requirement.name} is not pinned")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(
                f"{lock.name}: {requirement.name}=={version} is outside "
                f"pyproject.toml's {requirement.specifier}"
            )
    return found


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = project["project"]["dependencies"]
    dev = project["project"]["optional-dependencies"]["dev"]
    found = problems(runtime, ROOT / "requirements/runtime.lock") + problems(
        runtime + dev, ROOT / "requirements/dev.lock"
    )
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print("Run `make lock` and commit requirements/.", file=sys.stderr)
        return 1
    print(f"Lock files pin all {len(runtime) + len(dev)} dependencies.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
