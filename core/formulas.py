"""Text that is safe to open in a spreadsheet program."""

import re

# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def escape_formula(value):
    """Prefix text a spreadsheet would run as a formula with an apostrophe."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not NUMBER.match(value)
    ):
        return "'" + value
    return value
