from django.contrib import admin

from messaging.admin import MessageAdminForm
from messaging.models import Message
from messaging.services import message_added
from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Room


class MessageInline(admin.TabularInline):
    model = Message
    form = MessageAdminForm
    fields = ["sent_at", "is_support_sender", "nickname", "body", "support_answer", "terminated"]
    readonly_fields = ["sent_at"]
    ordering = ["sent_at", "id"]
    extra = 0
    show_change_link = True


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["label", "name", "account", "rating", "is_bot_use", "created_at"]
    list_filter = ["is_bot_use", "rating", "created_at"]
    search_fields = ["label", "name", "uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    readonly_fields = ["uuid", "created_at"]
    autocomplete_fields = ["account"]
    inlines = [MessageInline]

    def get_readonly_fields(self, request, obj=None):
        # Moving a room to another account would strand its messages in the old one.
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            event_emit(account=obj.account, event=EventType.CHAT_ADDED, instance=obj)

    def save_formset(self, request, form, formset, change):
        # A message added inline belongs to the room's account.
        for message in formset.save(commit=False):
            message.account_id = form.instance.account_id
            adding = message._state.adding
            message.save()
            if adding:
                message_added(message=message)
        for message in formset.deleted_objects:
            message.delete()
