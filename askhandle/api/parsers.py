"""DRF's parsers, with every way a body can be too much for them answered as a 400 naming it,
instead of a 500 (JSON nested deeper than Python's recursion limit) or a bare "Bad request."
(Django's limits on the number of form fields and files)."""

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class FormFieldLimitMixin:
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except TooManyFieldsSent:
            raise ParseError(
                f"Too many form fields (limit {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})."
            ) from None
        except TooManyFilesSent:
            raise ParseError(
                f"Too many files (limit {settings.DATA_UPLOAD_MAX_NUMBER_FILES})."
            ) from None


class FormParser(FormFieldLimitMixin, parsers.FormParser):
    pass


class MultiPartParser(FormFieldLimitMixin, parsers.MultiPartParser):
    pass
