from django.db.models import Q, QuerySet

from rooms.models import Room

from .models import Lead


def lead_rooms(*, lead: Lead) -> QuerySet[Room]:
    """The rooms held about a lead, in the lead's account: those linked to it (a visitor message
    recorded the lead there) and those with a message carrying the lead's email
    (case-insensitive) or phone number (as stored).

    The one place that decides which rooms belong to a lead, for the export and the purge.
    """
    match = Q(lead=lead)
    if lead.email:
        match |= Q(messages__email__iexact=lead.email)
    if lead.phone_number:
        match |= Q(messages__phone_number=lead.phone_number)
    return (
        Room.objects.filter(account_id=lead.account_id)
        .filter(pk__in=Room.objects.filter(match).values("pk"))
        .order_by("-created_at", "-id")
    )
