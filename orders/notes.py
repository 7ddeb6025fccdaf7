"""What an order's note, note attributes and discount codes may hold (gift
message, delivery instructions): enough for any shop's, small enough to
print on a slip, nothing the database refuses (a NUL, control characters)."""

from core.limits import text_problem

# Generous for a gift message or delivery instructions, small enough to print.
NOTE_MAX = 5000
NOTE_ATTRIBUTES_MAX = 50
DISCOUNT_CODES_MAX = 50
# A discount code, a note attribute's name.
NAME_MAX = 255


def notes_problem(
    note: str, attributes: list[dict[str, str]], codes: list[str] = ()
) -> str:
    """Why an order's note, note attributes and discount codes cannot be
    kept, or ""."""
    if len(note) > NOTE_MAX:
        return f"the note has {len(note)} characters; at most {NOTE_MAX} are kept."
    if problem := text_problem(note, max_length=None, single_line=False):
        return f"the note {problem}"
    if len(attributes) > NOTE_ATTRIBUTES_MAX:
        return (
            f"{len(attributes)} note attributes; at most {NOTE_ATTRIBUTES_MAX} "
            "are kept."
        )
    size = sum(len(a["name"]) + len(a["value"]) for a in attributes)
    if size > NOTE_MAX:
        return f"the note attributes have {size} characters; at most {NOTE_MAX}."
    for attribute in attributes:
        name = attribute["name"]
        if problem := text_problem(name, max_length=NAME_MAX, single_line=True):
            return f"the note attribute name {problem}"
        value = attribute["value"]
        if problem := text_problem(value, max_length=None, single_line=False):
            return f"the note attribute {name!r} {problem}"
    if len(codes) > DISCOUNT_CODES_MAX:
        return f"{len(codes)} discount codes; at most {DISCOUNT_CODES_MAX} are kept."
    for code in codes:
        if problem := text_problem(code, max_length=NAME_MAX, single_line=True):
            return f"the discount code {problem}"
    return ""
