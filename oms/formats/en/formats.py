"""Date and time as the back office writes them: short, unambiguous, the
same in every list and page ("1 Dec 2026 15:16")."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
