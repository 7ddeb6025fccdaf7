"""Wording checks over the source: what people read says one or many."""

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "inventory", "orders", "fulfillment", "returns", "connections", "oms")
# A word with "(s)" glued on: "order(s)", "unit(s)", "label(s)".
HEDGED_PLURAL = re.compile(r"[A-Za-z]\(s\)")
# Lines allowed to keep "(s)", each with its reason: not a plural, or only
# ever written to the log (read by whoever runs the service, not a person at
# a screen), or in a module this check does not own.
ALLOWED = {
    ("fulfillment/models/shipments.py", "http(s) address"),  # a URL scheme
    ("fulfillment/services/waves.py", "Pick wave %s: %d order(s)"),  # log only
    ("orders/rules/failures.py", "failed on %d order(s)"),  # log only
}


def _python_strings(path: Path):
    """Yield (line number, text) of every string literal that is not a docstring.

    A string standing alone as a statement (outside any bracket, first on its
    line) is a docstring or a note to the reader, not text for people.
    """
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    statement_start = True
    depth = 0
    for token in tokens:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        if token.type == tokenize.STRING and not (statement_start and depth == 0):
            yield token.start[0], token.string
        if token.type in (tokenize.COMMENT, tokenize.NL):
            continue
        statement_start = token.type in (
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        )


def _template_text(path: Path):
    """Yield (line number, text) of a template's lines with its comments removed."""
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    text = re.sub(
        r"\{% comment %\}.*?\{% endcomment %\}",
        lambda match: "\n" * match.group().count("\n"),
        text,
        flags=re.S,
    )
    yield from enumerate(text.splitlines(), start=1)


def _hedged_plurals():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or not path.is_file():
                continue
            if path.suffix == ".py":
                pieces = _python_strings(path)
            elif path.suffix in (".html", ".txt"):
                pieces = _template_text(path)
            else:
                continue
            for line, text in pieces:
                if not HEDGED_PLURAL.search(text):
                    continue
                if any(
                    relative == allowed_path and snippet in text
                    for allowed_path, snippet in ALLOWED
                ):
                    continue
                yield f"{relative}:{line}: {text.strip()[:100]}"


def test_no_hedged_plural_reaches_people():
    """Counts read "1 order" / "2 orders" (ngettext, pluralize), never "order(s)"."""
    assert list(_hedged_plurals()) == []


def test_the_check_sees_strings_and_templates(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        '"""Docstring about label(s)."""\n'
        "# a comment about order(s)\n"
        'message = f"{count} unit(s) left"\n'
        "value = list(s)\n"
    )
    template = tmp_path / "example.html"
    template.write_text("{# order(s) #}\n<p>{{ n }} shipment(s)</p>\n")

    found_python = [
        line for line, text in _python_strings(source) if HEDGED_PLURAL.search(text)
    ]
    found_template = [
        line for line, text in _template_text(template) if HEDGED_PLURAL.search(text)
    ]

    assert found_python == [3]
    assert found_template == [2]


def test_the_check_sees_strings_inside_calls(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "def act():\n"
        '    """Act on the label(s)."""\n'
        "    message_user(\n"
        "        request,\n"
        '        "Revoked key(s).",\n'
        "    )\n"
    )

    found = [
        line for line, text in _python_strings(source) if HEDGED_PLURAL.search(text)
    ]

    assert found == [5]
