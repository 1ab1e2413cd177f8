from django.db import transaction

from .models import Lead
from .selectors import lead_rooms


@transaction.atomic
def lead_delete(*, lead: Lead, purge: bool = False) -> None:
    """Delete a lead; with `purge`, also every room held about it (see `lead_rooms`) and so
    their messages: a person's right to erasure."""
    if purge:
        lead_rooms(lead=lead).delete()
    lead.delete()
