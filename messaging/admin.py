from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "room", "nickname", "is_support_sender", "terminated", "sent_at"]
    list_filter = ["is_support_sender", "terminated", "sent_at"]
    search_fields = ["body", "nickname", "email", "phone_number", "uuid", "room__label"]
    date_hierarchy = "sent_at"
    list_select_related = ["room"]
    readonly_fields = ["uuid", "sent_at"]
    autocomplete_fields = ["account", "room"]
