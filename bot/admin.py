from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin

from .models import BotSettings, HandOff


@admin.register(BotSettings)
class BotSettingsAdmin(AccountScopedAdmin):
    list_display = ["account", "greeting_message", "handoff_message"]
    search_fields = ["account__username"]
    list_select_related = ["account"]
    autocomplete_fields = ["account"]


@admin.register(HandOff)
class HandOffAdmin(AccountScopedAdmin):
    """Conversations waiting for a person: the bot is off in their rooms."""

    list_display = ["room", "account", "reason", "question", "created_at"]
    list_filter = ["reason", "created_at"]
    search_fields = ["room__label", "room__name", "message__body", "account__username"]
    date_hierarchy = "created_at"
    list_select_related = ["room", "account", "message"]
    readonly_fields = ["account", "room", "message", "reason", "created_at"]

    @admin.display(description="visitor's message")
    def question(self, obj):
        return obj.message.body[:100]

    def has_add_permission(self, request):
        return False
