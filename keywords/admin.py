from django import forms
from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin
from askhandle.api.quotas import QuotaExceeded

from .matching import keyword_normalize
from .models import Keyword, KeywordNotification
from .services import keyword_save, keywords_quota_check


class KeywordAdminForm(forms.ModelForm):
    class Meta:
        model = Keyword
        fields = ["account", "keyword"]

    def clean(self):
        # Duplicates (ignoring case) are a form error here, not a failed save.
        data = super().clean()
        account = data.get("account") or getattr(self.instance, "account", None)
        if account is not None and data.get("keyword"):
            duplicates = Keyword.objects.filter(
                account=account, normalized=keyword_normalize(data["keyword"])
            ).exclude(pk=self.instance.pk)
            if duplicates.exists():
                self.add_error("keyword", "This account already has this keyword.")
            if self.instance.pk is None:
                # The service refuses it too; here it is a form error rather than a failed save.
                try:
                    keywords_quota_check(account=account)
                except QuotaExceeded as error:
                    self.add_error(None, str(error.detail))
        return data


@admin.register(Keyword)
class KeywordAdmin(AccountScopedAdmin):
    form = KeywordAdminForm
    list_display = ["keyword", "account", "created_at"]
    search_fields = ["keyword"]
    list_select_related = ["account"]
    readonly_fields = ["uuid", "created_at"]
    autocomplete_fields = ["account"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "account"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        keyword_save(keyword=obj)


@admin.register(KeywordNotification)
class KeywordNotificationAdmin(AccountScopedAdmin):
    list_display = ["keyword", "message", "room", "account", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["keyword", "message__body", "room__label"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "message", "room"]
    readonly_fields = ["uuid", "account", "keyword", "message", "room", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
