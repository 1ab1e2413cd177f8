from django.db import transaction

from accounts.models import User
from idempotency.services import idempotency_keys_forget
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Lead
from .selectors import lead_rooms


@transaction.atomic
def lead_create(*, account: User, **fields) -> Lead:
    lead = Lead.objects.create(account=account, **fields)
    event_emit(account=account, event=EventType.LEAD_ADDED, instance=lead)
    return lead


@transaction.atomic
def lead_delete(*, lead: Lead, purge: bool = False) -> None:
    """Delete a lead; with `purge`, also every room held about it (see `lead_rooms`) and so
    their messages, and the stored create answers (Idempotency-Key replays) that mention the lead
    or those rooms: a person's right to erasure."""
    if purge:
        rooms = lead_rooms(lead=lead)
        room_uuids = [str(room_uuid) for room_uuid in rooms.values_list("uuid", flat=True)]
        idempotency_keys_forget(
            account=lead.account,
            values=[str(lead.uuid), lead.email, lead.phone_number, *room_uuids],
        )
        rooms.delete()
    lead.delete()
