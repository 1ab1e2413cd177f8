from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin, AccountScopedTabularInline
from messaging.admin import MessageAdminForm, admin_message_create
from messaging.models import Message
from messaging.services import message_update

from .models import Room
from .services import room_create, room_update


class MessageInline(AccountScopedTabularInline):
    model = Message
    form = MessageAdminForm
    fields = ["sent_at", "is_support_sender", "nickname", "body", "support_answer", "terminated"]
    readonly_fields = ["sent_at"]
    ordering = ["sent_at", "id"]
    extra = 0
    show_change_link = True


@admin.register(Room)
class RoomAdmin(AccountScopedAdmin):
    list_display = ["label", "name", "account", "rating", "is_bot_use", "created_at"]
    list_filter = ["is_bot_use", "rating", "created_at"]
    search_fields = ["label", "name", "uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    # The lead is the one the room's messages recorded (see leads.services).
    readonly_fields = ["uuid", "created_at", "lead"]
    autocomplete_fields = ["account"]
    inlines = [MessageInline]

    def get_readonly_fields(self, request, obj=None):
        # Moving a room to another account would strand its messages in the old one.
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Through the services, as the API: a new room is announced (chat.added) there.
        if change:
            room_update(room=obj, **{name: form.cleaned_data[name] for name in form.changed_data})
            return
        fields = dict(form.cleaned_data)
        room = room_create(account=fields.pop("account"), label=fields.pop("label"), **fields)
        # The admin goes on with the instance its form built (the inlines, the log, the redirect).
        vars(obj).update(vars(room))

    def save_formset(self, request, form, formset, change):
        if formset.model is not Message:
            return super().save_formset(request, form, formset, change)
        room = form.instance
        formset.save(commit=False)  # sorts the forms into new, changed and deleted messages
        # Only the inline's own fields: not its id, room (the parent) or DELETE box.
        names = list(formset.form.base_fields)
        for message in formset.new_objects:
            fields = {name: getattr(message, name) for name in names}
            admin_message_create(room=room, message=message, fields=fields)
        for message, changed in formset.changed_objects:
            message_update(message=message, **{name: getattr(message, name) for name in changed})
        for message in formset.deleted_objects:
            message.delete()
