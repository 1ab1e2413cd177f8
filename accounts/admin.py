from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.db.models import Q

from .admin_scope import AccountScopedAdmin, admin_account_id
from .models import ApiKey, User, api_key_digest, api_key_generate
from .services import api_key_revoke


def permission_ids(user: User) -> set[int]:
    """The permissions a login holds, its own and its groups' (whether it is active or not:
    Django's `get_all_permissions()` answers nothing for an inactive user)."""
    return set(
        Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list("pk", flat=True)
    )


@admin.register(User)
class AccountAdmin(AccountScopedAdmin, UserAdmin):
    """Accounts and their people. A login that is not a superuser sees its account and the
    account's people, and changes only people who hold nothing it does not hold itself (no
    superuser, no group it is not in, no permission it lacks): it cannot raise anyone, itself
    included, above its own rights, and never changes the account itself."""

    list_display = ["username", "email", "account", "is_active", "is_staff", "date_joined"]
    list_select_related = ["account"]
    search_fields = ["username", "first_name", "last_name", "email", "account__username"]
    fieldsets = [
        *UserAdmin.fieldsets[:2],
        (
            "Permissions",
            {
                "fields": [
                    "account",
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ]
            },
        ),
        *UserAdmin.fieldsets[3:],
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "account", "usable_password", "password1", "password2"],
            },
        ),
    ]

    def account_filter(self, account_id):
        return Q(pk=account_id) | Q(account=account_id)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and admin_account_id(request) is not None:
            # A login of an account adds people of its own account (set in save_model).
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "account"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if admin_account_id(request) is not None:
            readonly += ["account", "is_superuser"]
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if admin_account_id(request) is not None:
            # Only what the login holds itself can be given.
            if db_field.name == "groups":
                kwargs["queryset"] = request.user.groups.all()
            elif db_field.name == "user_permissions":
                kwargs["queryset"] = Permission.objects.filter(
                    pk__in=permission_ids(request.user)
                ).select_related("content_type")
        # Past AccountScoped's version: groups and permissions belong to no account.
        return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.resolver_match and request.resolver_match.url_name == "autocomplete":
            # Autocompletes fill in a row's account: accounts only, never their people.
            queryset = queryset.filter(account__isnull=True)
        return queryset, may_have_duplicates

    def user_editable(self, request, user: User) -> bool:
        if admin_account_id(request) is None:
            return True
        editor = request.user
        return (
            not user.is_superuser
            and user.account_id == editor.own_account_id
            and permission_ids(user) <= permission_ids(editor)
            and set(user.groups.values_list("pk", flat=True))
            <= set(editor.groups.values_list("pk", flat=True))
        )

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.user_editable(request, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.user_editable(request, obj))

    def save_model(self, request, obj, form, change):
        account_id = admin_account_id(request)
        if account_id is not None and not change:
            obj.account_id = account_id
        super().save_model(request, obj, form, change)


@admin.register(ApiKey)
class ApiKeyAdmin(AccountScopedAdmin):
    """Keys are stored as digests: a new key is shown once, in the message after it is added.
    Keys belong to accounts (never to their people, who log into the admin only)."""

    account_path = "user"

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
