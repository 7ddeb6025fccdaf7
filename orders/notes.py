"""What an order's note and note attributes may hold (gift message, delivery
instructions): enough for any shop's, small enough to print on a slip."""

# Generous for a gift message or delivery instructions, small enough to print.
NOTE_MAX = 5000
NOTE_ATTRIBUTES_MAX = 50


def notes_problem(note: str, attributes: list[dict[str, str]]) -> str:
    """Why an order's note and note attributes cannot be kept, or ""."""
    if len(note) > NOTE_MAX:
        return f"the note has {len(note)} characters; at most {NOTE_MAX} are kept."
    if len(attributes) > NOTE_ATTRIBUTES_MAX:
        return (
            f"{len(attributes)} note attributes; at most {NOTE_ATTRIBUTES_MAX} "
            "are kept."
        )
    size = sum(len(a["name"]) + len(a["value"]) for a in attributes)
    if size > NOTE_MAX:
        return f"the note attributes have {size} characters; at most {NOTE_MAX}."
    return ""
