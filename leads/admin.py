from django.contrib import admin

from webhooks.models import EventType
from webhooks.services import event_emit

from .models import Lead


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone_number", "account", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["nickname", "email", "phone_number", "uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    readonly_fields = ["uuid", "created_at"]
    autocomplete_fields = ["account"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            event_emit(account=obj.account, event=EventType.LEAD_ADDED, instance=obj)
