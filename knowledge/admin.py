from django.contrib import admin
from django.utils import timezone

from .models import KnowledgeEntry


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "account", "tags", "updated_at"]
    list_filter = ["updated_at", "created_at"]
    search_fields = ["question", "answer", "tags", "uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    readonly_fields = ["uuid", "created_at", "updated_at"]
    autocomplete_fields = ["account"]
    fields = ["account", "question", "answer", "tags", "uuid", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    def save_model(self, request, obj, form, change):
        if change:
            obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
