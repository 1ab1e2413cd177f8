import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.models import Message


class RoomQuerySet(models.QuerySet):
    def with_messages(self):
        """Rooms as the API renders them: each with its total `message_count` and its
        ROOM_MESSAGES_MAX newest messages, oldest first (every answer is bounded: docs/api.md)."""
        total = (
            Message.objects.filter(room=OuterRef("pk"))
            .order_by()
            .values("room")
            .annotate(total=Count("pk"))
            .values("total")
        )
        newest = Message.objects.newest_per_room(settings.ROOM_MESSAGES_MAX)
        return self.annotate(message_count=Coalesce(Subquery(total), 0)).prefetch_related(
            Prefetch("messages", queryset=newest)
        )


class Room(models.Model):
    """A conversation between a visitor and the account (its bot or its people)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rooms"
    )
    # The path key: unique per account, generated when the client gives none.
    label = models.SlugField(max_length=64)
    name = models.CharField(max_length=255, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    is_bot_use = models.BooleanField(default=True)
    greeting_message = models.TextField(max_length=5000, blank=True)
    is_confirmed_form = models.BooleanField(default=False)
    is_scheduling_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The visitor's lead, once a message in the room carried an email or phone number.
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="rooms"
    )

    objects = RoomQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "label"], name="room_label_unique"),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__range=(1, 5)),
                name="room_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="room_account_created"),
        ]

    def __str__(self):
        return self.name or self.label
