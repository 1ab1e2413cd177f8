from django.db import transaction

from accounts.models import User
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Lead


@transaction.atomic
def lead_create(*, account: User, **fields) -> Lead:
    lead = Lead.objects.create(account=account, **fields)
    event_emit(account=account, event=EventType.LEAD_ADDED, instance=lead)
    return lead
