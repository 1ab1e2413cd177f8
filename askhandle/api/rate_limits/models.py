"""The rate limits' shared counters (without REDIS_URL): one row per counted key, holding its
current window. Written by `rate_limits._database_add` only, one atomic statement each; not a cache,
so nothing culls a count before its window ends (stale rows are deleted by the same store)."""

from django.db import models


class Counter(models.Model):
    key = models.CharField(max_length=200, primary_key=True)
    # The window's number (time // period): a row of an older window counts from zero again.
    slot = models.BigIntegerField()
    # When the window ends (Unix seconds): rows of ended windows are deleted now and then.
    expires_at = models.BigIntegerField()
    count = models.BigIntegerField()

    def __str__(self):
        return f"{self.key}: {self.count} in window {self.slot}"
