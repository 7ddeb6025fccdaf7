"""Check the internal links of README.md and docs/*.md; exit 1 on a broken one.

A link to another file must name a file of the checkout; a link with
`#anchor` must name a heading of its target (GitHub's slugs: lower case,
punctuation dropped, spaces as hyphens). Links to other sites are not
fetched. MkDocs' `--strict` would do the same with a site to build; this
is the part of it the project needs.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def broken_links(path: Path) -> list[str]:
    problems = []
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    for match in LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        line = text[: match.start()].count("\n") + 1
        where = f"{path.relative_to(ROOT)}:{line}"
        if not destination.exists():
            problems.append(f"{where}: {target} — no such file")
        elif (
            anchor
            and destination.suffix == ".md"
            and anchor not in anchors(destination)
        ):
            problems.append(f"{where}: {target} — no heading #{anchor}")
    return problems


def main() -> int:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    problems = [problem for page in pages for problem in broken_links(page)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} broken link(s) in the docs.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
