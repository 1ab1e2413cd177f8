import secrets

import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

# orjson defers to DRF's encoder for these, so that they render exactly as before.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_drf_default = encoders.JSONEncoder().default
# JSON allows them raw, JavaScript source did not: DRF escapes them.
_LS, _PS = "\u2028".encode(), "\u2029".encode()
# Where a rendered part goes, while the rest is rendered: a string no answer holds.
_SLOT = f"\x00{secrets.token_hex(16)}\x00"
_SLOT_JSON = orjson.dumps(_SLOT)


class RenderedJSON:
    """A value already rendered by JSONRenderer (its bytes), placed as is inside a larger answer:
    the rooms list keeps each room's rendered messages apart (messaging/room_messages.py), so
    a page is assembled without rendering the unchanged rooms again. `deflate`, if given, returns
    the part compressed (askhandle.api.compression.deflate_piece), which its owner may keep."""

    __slots__ = ("content", "deflate")

    def __init__(self, content: bytes, deflate=None):
        self.content = content
        self.deflate = deflate


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

    An answer with RenderedJSON parts is rendered around them and the parts' bytes are joined in;
    the pieces are left on the response (`rendered_pieces`) for gzip to reuse the parts'
    compressed forms (askhandle/api/compression.py).
    """

    encoder_class = _Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        renderer_context = renderer_context or {}
        if self.get_indent(accepted_media_type, renderer_context) is None:
            try:
                pieces = _render(data)
            except (orjson.JSONEncodeError, TypeError, ValueError):
                pass
            else:
                if len(pieces) == 1:
                    return pieces[0]
                response = renderer_context.get("response")
                if response is not None:
                    response.rendered_pieces = pieces
                return b"".join(p if isinstance(p, bytes) else p.content for p in pieces)
        return super().render(data, accepted_media_type, renderer_context)


def _render(data) -> list:
    """The answer as pieces: bytes, and RenderedJSON parts between them."""
    parts = []

    def default(value):
        if isinstance(value, RenderedJSON):
            parts.append(value)
            return _SLOT
        return _drf_default(value)

    # Parts are escaped already (and can be most of the bytes: 6.9 MB for a rooms page at a
    # million messages, 11 ms to scan twice), so only what is around them is escaped here.
    rendered = orjson.dumps(data, default=default, option=_OPTIONS)
    rendered = rendered.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
    if not parts:
        return [rendered]
    around = rendered.split(_SLOT_JSON)
    if len(around) != len(parts) + 1:
        raise ValueError("A rendered part's slot is in the data itself.")
    pieces = [around[0]]
    for part, after in zip(parts, around[1:], strict=True):
        pieces += [part, after]
    return pieces
