import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

# orjson defers to DRF's encoder for these, so that they render exactly as before.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_drf_default = encoders.JSONEncoder().default


class RenderedJSON:
    """A value already rendered by JSONRenderer (its bytes), placed as is inside a larger answer:
    the rooms list keeps each room's rendered messages apart (messaging/room_messages.py), so
    a page is assembled without rendering the unchanged rooms again."""

    __slots__ = ("content",)

    def __init__(self, content: bytes):
        self.content = content


def _default(value):
    if isinstance(value, RenderedJSON):
        return orjson.Fragment(value.content)
    return _drf_default(value)


class _Encoder(encoders.JSONEncoder):
    # DRF's path (indented answers, what orjson refuses) reads rendered parts back.
    def default(self, obj):
        if isinstance(obj, RenderedJSON):
            return orjson.loads(obj.content)
        return super().default(obj)


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, through orjson: the same bytes (compact, UTF-8, with U+2028 and
    U+2029 escaped), several times faster on large pages such as rooms with their messages.

    Anything orjson refuses (a lone surrogate, non-string keys) and `; indent=` requests go to
    DRF's renderer, so answers stay what they were.
    """

    encoder_class = _Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is None:
            try:
                rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
            except (orjson.JSONEncodeError, TypeError, ValueError):
                pass
            else:
                return rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                    b"\xe2\x80\xa9", b"\\u2029"
                )
        return super().render(data, accepted_media_type, renderer_context)
