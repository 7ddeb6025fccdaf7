"""CSV order import: read, recognise the format, validate, write in bulk."""
