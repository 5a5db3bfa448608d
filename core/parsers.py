"""The API's request parsers (DRF)."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's, with JSON nested deeper than the interpreter's recursion limit a 400 like any other
    malformed body: the json module raises RecursionError, which DRF lets through as a 500.
    (A body that is not UTF-8 is a ValueError, which DRF already answers 400.)"""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
