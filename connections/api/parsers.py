"""The order API's JSON parser: the body read by `core.json_body`, so too
deep nesting, NUL in a string and invalid UTF-8 are a 400 saying so."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.json_body import JsonBodyError, json_body_read


class JsonBodyParser(JSONParser):
    """DRF's JSONParser, reading through `json_body_read` (at most
    `MAX_JSON_DEPTH` levels, no NUL, UTF-8, no NaN)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json_body_read(stream.read() if stream is not None else b"")
        except JsonBodyError as error:
            raise ParseError(str(error)) from None
