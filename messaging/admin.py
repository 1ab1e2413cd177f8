from django import forms
from django.contrib import admin

from .models import Message
from .services import message_added


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


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    form = MessageAdminForm
    list_display = ["__str__", "room", "nickname", "is_support_sender", "terminated", "sent_at"]
    list_filter = ["is_support_sender", "terminated", "sent_at"]
    search_fields = ["body", "nickname", "email", "phone_number", "uuid", "room__label"]
    date_hierarchy = "sent_at"
    list_select_related = ["room"]
    # The account is the room's: never chosen separately, so the two cannot disagree.
    readonly_fields = ["uuid", "account", "sent_at"]
    autocomplete_fields = ["room"]

    def save_model(self, request, obj, form, change):
        obj.account_id = obj.room.account_id
        super().save_model(request, obj, form, change)
        if not change:
            message_added(message=obj)
