from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from .models import ApiKey, User, api_key_digest, api_key_generate
from .services import api_key_revoke


@admin.register(User)
class AccountAdmin(UserAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "date_joined"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are stored as digests: a new key is shown once, in the message after it is added."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at", "last_used_at"]
    search_fields = ["user__username", "user__email", "name", "prefix"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["revoke"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # A key's owner never changes; to move access, issue a new key.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            key = api_key_generate()
            obj.digest, obj.prefix = api_key_digest(key), key[:8]
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"New API key for {obj.user}: {key} (copy it now: it is not stored and will "
                "not be shown again).",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        count = api_key_revoke(api_keys=queryset)
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)
