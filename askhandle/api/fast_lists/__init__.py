"""The list fast path, behind one boundary (docs/fast-lists.md).

A list view calls `page(view)` first and takes DRF's own path when it answers None:

    def list(self, request, *args, **kwargs):
        response = fast_lists.page(self)
        return response if response is not None else super().list(request, *args, **kwargs)

Apps hand their listed models in from `AppConfig.ready()` with `register()`. Everything else (the
data versions and their triggers, day counters, page and group caches, rendering rows from the
serializer's fields) lives in this package and its migrations; nothing outside reads its state.
On PostgreSQL only: on SQLite `page()` answers None (exact `COUNT(*)`, nothing cached).
"""

from .registry import register

__all__ = ["page", "register"]


def page(view):
    """The page from the fast path (an HttpResponse), or None: see pages.page."""
    from .pages import page as fast_page  # imports models: not before the apps are loaded

    return fast_page(view)
