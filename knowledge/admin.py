from django import forms
from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin
from askhandle.api.quotas import QuotaExceeded

from .models import KnowledgeEntry, tags_split
from .services import knowledge_entry_create, knowledge_entry_update, knowledge_quota_check


class KnowledgeEntryAdminForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("account") is not None:
            # The service refuses it too; here it is a form error rather than a failed save.
            try:
                knowledge_quota_check(account=data["account"])
            except QuotaExceeded as error:
                self.add_error(None, str(error.detail))
        return data


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(AccountScopedAdmin):
    form = KnowledgeEntryAdminForm
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
        # Through the services, as the API (tags tidied the same way, `updated_at` kept).
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if "tags" in fields:
            fields["tags"] = tags_split(fields["tags"])
        if change:
            knowledge_entry_update(entry=obj, **fields)
            return
        data = form.cleaned_data
        entry = knowledge_entry_create(
            account=data["account"],
            question=data["question"],
            answer=data["answer"],
            tags=tags_split(data["tags"]),
        )
        # The admin goes on with the instance its form built (the log, the redirect).
        vars(obj).update(vars(entry))
