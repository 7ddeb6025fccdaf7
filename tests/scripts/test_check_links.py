"""The docs' link check (scripts/check_links.py) that `make lint` runs."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
spec = importlib.util.spec_from_file_location(
    "check_links", ROOT / "scripts" / "check_links.py"
)
check_links = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_links)


def test_the_docs_have_no_broken_internal_link():
    assert check_links.main() == 0


def test_a_missing_file_and_a_missing_heading_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(check_links, "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\n## Real part\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md#real-part) [gone](docs/b.md) [bad](docs/a.md#nowhere)\n"
        "```\n[in a fence](ignored.md)\n```\n[web](https://example.com/x)\n"
    )

    problems = check_links.broken_links(page)

    assert problems == [
        "README.md:1: docs/b.md — no such file",
        "README.md:1: docs/a.md#nowhere — no heading #nowhere",
    ]
