from django import forms
from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin

from .models import Message
from .reactions import Answering
from .services import message_create, message_update


class MessageAdminForm(forms.ModelForm):
    # An empty box means "no answer yet" (null), which clients tell apart from an answer.
    support_answer = forms.CharField(
        required=False, empty_value=None, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = Message
        fields = [
            "room",
            "body",
            "nickname",
            "email",
            "phone_number",
            "is_support_sender",
            "support_answer",
            "terminated",
        ]


# Nobody waits in a chat window for a message added in the admin: the bot answers it without
# holding the admin's request for the model.
ADMIN_ANSWERING = Answering.BACKGROUND


def admin_message_create(*, room, message: Message, fields: dict) -> None:
    """Add a message from an admin form through `message_create` (so it sets off what one from
    the API does); `message`, the instance the admin built, takes on the one recorded, since the
    admin goes on with it (the log, the redirect)."""
    created = message_create(account=room.account, room=room, answer=ADMIN_ANSWERING, **fields)
    vars(message).update(vars(created))


@admin.register(Message)
class MessageAdmin(AccountScopedAdmin):
    form = MessageAdminForm
    list_display = ["__str__", "room", "nickname", "is_support_sender", "terminated", "sent_at"]
    list_filter = ["is_support_sender", "terminated", "sent_at"]
    search_fields = ["body", "nickname", "email", "phone_number", "uuid", "room__label"]
    date_hierarchy = "sent_at"
    list_select_related = ["room"]
    # The account is the room's: never chosen separately, so the two cannot disagree.
    readonly_fields = [
        "uuid",
        "account",
        "sent_at",
        "support_answer_sources",
        "support_answer_confidence",
    ]
    autocomplete_fields = ["room"]

    def get_readonly_fields(self, request, obj=None):
        # A message stays in its conversation (and so its account): moving it would rewrite a
        # history that webhooks and exports already reported.
        return [*self.readonly_fields, "room"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = dict(form.cleaned_data)
        if change:
            message_update(message=obj, **{name: fields[name] for name in form.changed_data})
        else:
            admin_message_create(room=fields.pop("room"), message=obj, fields=fields)
