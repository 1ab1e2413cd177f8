"""Gzip for API answers, for clients that ask for it (`Accept-Encoding: gzip`).

A rooms page nests every message of its rooms, so at a busy account's scale one page is megabytes
of JSON; sent compressed it is a few percent of that (most HTTP libraries and every browser ask
for gzip; curl does with `--compressed`). Django's GZipMiddleware does the work, limited to the
API: admin pages are authenticated by a cookie and carry CSRF tokens beside reflected input (the
BREACH setting), API answers are authenticated by a header a third-party page cannot make a
browser send. Pages from the page cache keep their compressed form beside the plain one, so a
repeated page is compressed once, not on every request (askhandle/api/page_cache.py). And an
answer assembled from parts rendered earlier (a rooms page: askhandle.api.renderers.RenderedJSON)
is compressed from those parts' kept compressed forms, joined into one gzip stream
(`stitched_gzip`), so only what changed is compressed again.
"""

import struct
import zlib

from django.middleware.gzip import GZipMiddleware, re_accepts_gzip
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_string

API_PREFIX = "/api/"
# GZipMiddleware's own floor: shorter answers are not worth a gzip header.
MIN_LENGTH = 200


def accepts_gzip(request) -> bool:
    return bool(re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))


def gzip_or_none(content: bytes) -> bytes | None:
    """The body as GZipMiddleware would send it, or None where it would send it plain."""
    if len(content) < MIN_LENGTH:
        return None
    compressed = compress_string(content, max_random_bytes=GZipMiddleware.max_random_bytes)
    return compressed if len(compressed) < len(content) else None


def deflate_piece(content: bytes) -> bytes:
    """`content` as raw deflate blocks ending on a byte boundary (a sync flush, no final block):
    pieces made apart, each referring only to its own bytes, join into one deflate stream."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(content) + compressor.flush(zlib.Z_SYNC_FLUSH)


_FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush()  # an empty, final block


def stitched_gzip(pieces) -> bytes:
    """One gzip member whose content is the pieces in order: bytes (compressed here) or
    RenderedJSON parts (compressed by their own `deflate`, which may keep the result)."""
    # The header with GZipMiddleware's random file name (against BREACH): what compress_string
    # writes for no content, less its final block (2 bytes) and its CRC and size (8).
    header = compress_string(b"", max_random_bytes=GZipMiddleware.max_random_bytes)[:-10]
    out, crc, size = [header], 0, 0
    for piece in pieces:
        if isinstance(piece, bytes):
            plain, deflated = piece, deflate_piece(piece)
        else:
            plain = piece.content
            deflated = piece.deflate() if piece.deflate else deflate_piece(plain)
        out.append(deflated)
        crc = zlib.crc32(plain, crc)
        size += len(plain)
    out += [_FINAL_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF)]
    return b"".join(out)


def gzipped_content(response) -> bytes | None:
    """`response`'s body as a gzip client gets it (None: plain), from its parts when the renderer
    assembled it from parts (`rendered_pieces`)."""
    pieces = getattr(response, "rendered_pieces", None)
    if pieces is None or len(response.content) < MIN_LENGTH:
        return gzip_or_none(response.content)
    compressed = stitched_gzip(pieces)
    return compressed if len(compressed) < len(response.content) else None


def set_gzipped(response, compressed: bytes) -> None:
    """Give `response` the compressed body and the headers GZipMiddleware would have set (which
    then leaves it alone: it has a Content-Encoding)."""
    response.content = compressed
    response.headers["Content-Length"] = str(len(compressed))
    response.headers["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ("Accept-Encoding",))


class ApiGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for the answers under /api/ only."""

    def process_response(self, request, response):
        if not request.path.startswith(API_PREFIX):
            return response
        if (
            getattr(response, "rendered_pieces", None) is not None
            and not response.has_header("Content-Encoding")
            and accepts_gzip(request)
        ):
            compressed = gzipped_content(response)
            if compressed is not None:
                set_gzipped(response, compressed)
                return response
        return super().process_response(request, response)
