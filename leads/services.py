import re

from django.db import IntegrityError, transaction

from accounts.models import User
from askhandle.api.mentions import Person
from idempotency.services import idempotency_keys_forget
from webhooks.models import EventType
from webhooks.services import event_emit, events_forget

from .models import Lead
from .selectors import lead_rooms

ATTEMPTS = 3


@transaction.atomic
def lead_create(*, account: User, **fields) -> Lead:
    lead = Lead.objects.create(account=account, **fields)
    event_emit(account=account, event=EventType.LEAD_ADDED, instance=lead)
    return lead


def lead_update(*, lead: Lead, **fields) -> Lead:
    """Change a lead's details (the API's PUT and PATCH, the admin); sets nothing off."""
    for name, value in fields.items():
        setattr(lead, name, value)
    lead.save(update_fields=list(fields))
    return lead


@transaction.atomic
def lead_delete(*, lead: Lead, purge: bool = False) -> None:
    """Delete a lead; with `purge`, forget everything held about the person, in one transaction
    (a person's right to erasure): every room held about them (see `lead_rooms`) with its
    messages, keyword notifications and hand-offs; the webhook events about them (the lead, those
    rooms, anything carrying their email or phone number) with their deliveries, pending or
    finished, and attempt logs; and the stored create answers (Idempotency-Key replays) about
    them. Stored copies are matched by exact identifiers and field values
    (askhandle.api.mentions), never by text inside them."""
    if purge:
        rooms = lead_rooms(lead=lead)
        person = Person(
            uuids=(str(lead.uuid), *map(str, rooms.values_list("uuid", flat=True))),
            email=lead.email,
            phone_number=lead.phone_number,
        )
        events_forget(account=lead.account, person=person)
        idempotency_keys_forget(account=lead.account, person=person)
        rooms.delete()
    lead.delete()


def _phone_key(phone_number: str) -> str | None:
    digits = re.sub(r"[^\d+]", "", phone_number)
    return "phone:" + digits if len(digits.lstrip("+")) >= 3 else None


def lead_chat_key(*, email: str, phone_number: str) -> str | None:
    """What identifies a visitor across messages: the email, or the phone number without one."""
    if email.strip():
        return "email:" + email.strip().casefold()
    return _phone_key(phone_number)


def lead_record_from_chat(
    *, account: User, email: str = "", phone_number: str = "", nickname: str = ""
) -> Lead | None:
    """Record the lead a visitor message carries: one per email (or phone without an email).

    An existing lead (the one from an earlier message, or one made through the API with the same
    email or phone) is updated with the newer details, never duplicated. Two messages racing to
    create the same lead meet at the unique (account, chat_key) constraint: the loser retries and
    updates the winner's lead.
    """
    key = lead_chat_key(email=email, phone_number=phone_number)
    if key is None:
        return None
    details = {"email": email.strip(), "phone_number": phone_number.strip(), "nickname": nickname}
    details = {name: value for name, value in details.items() if value}
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                lead = _lead_for_key(account, key, details)
                if lead is None:
                    return lead_create(account=account, chat_key=key, **details)
                changed = [name for name, value in details.items() if getattr(lead, name) != value]
                if "email" in changed and lead.email.casefold() == details["email"].casefold():
                    changed.remove("email")  # the same address, spelt in other case
                for name in changed:
                    setattr(lead, name, details[name])
                # An email identifies better than a phone: a lead keyed by email keeps its key.
                if lead.chat_key != key and not (lead.chat_key or "").startswith("email:"):
                    lead.chat_key = key
                    changed.append("chat_key")
                if changed:
                    lead.save(update_fields=changed)
                return lead
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _lead_for_key(account: User, key: str, details: dict) -> Lead | None:
    leads = Lead.objects.select_for_update().filter(account=account).order_by("created_at", "id")
    lead = leads.filter(chat_key=key).first()
    if lead is not None:
        return lead
    phone_key = _phone_key(details.get("phone_number", ""))
    if key.startswith("email:"):
        # A lead made through the API with this email, or the lead of this visitor's earlier
        # messages that had only the phone number.
        lead = leads.filter(chat_key__isnull=True, email__iexact=details["email"]).first()
        if lead is None and phone_key:
            lead = leads.filter(chat_key=phone_key).first()
        return lead
    # A phone without an email: any lead of the account with that number.
    return leads.filter(phone_number=details["phone_number"]).first()


def chat_lead_record(*, message) -> Lead | None:
    """A visitor message's lead, recorded and remembered by its room (see message_create)."""
    lead = lead_record_from_chat(
        account=message.account,
        email=message.email,
        phone_number=message.phone_number,
        nickname=message.nickname,
    )
    room = message.room
    if lead is not None and room.lead_id != lead.pk:
        type(room).objects.filter(pk=room.pk).update(lead=lead)
        room.lead = lead
    return lead
