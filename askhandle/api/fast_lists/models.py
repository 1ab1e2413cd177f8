"""The fast path's own tables. Written by database triggers only (triggers.py), read by the
fast path only. Plain columns, not foreign keys: the triggers touch these rows while cascades
delete the rows they follow, and a stale row of a deleted account or group is harmless."""

from django.db import models


class DataVersion(models.Model):
    """An account's data version: a random token replaced at every change of a listed table's
    rows of the account. Cached pages are kept under it."""

    account_id = models.BigIntegerField(primary_key=True)
    token = models.BigIntegerField()

    def __str__(self):
        return f"account {self.account_id}: {self.token}"


class GroupVersion(models.Model):
    """The version of one group of a listed table's rows (a room's messages), also replaced when
    the group's own row changes (a room's label is in each of its messages). Rendered groups
    nested in list pages are kept under it. A group without a row is rendered every time."""

    table_name = models.CharField(max_length=63)
    group_id = models.BigIntegerField()
    token = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table_name", "group_id"], name="group_version_key")
        ]

    def __str__(self):
        return f"{self.table_name} group {self.group_id}: {self.token}"


class DayCount(models.Model):
    """How many rows of a listed table one account has on one UTC day, in one scope (0: the
    whole account; else the value of a scope column, e.g. a room's id)."""

    table_name = models.CharField(max_length=63)
    account_id = models.BigIntegerField()
    scope = models.BigIntegerField(default=0)
    day = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["table_name", "account_id", "scope", "day"], name="day_count_key"
            )
        ]

    def __str__(self):
        return f"{self.table_name} {self.account_id}/{self.scope} {self.day}: {self.n}"
