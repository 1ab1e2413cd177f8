from django.contrib import admin

from accounts.admin_scope import AccountScopedAdmin

from .models import Lead
from .services import lead_create, lead_update


@admin.register(Lead)
class LeadAdmin(AccountScopedAdmin):
    list_display = ["__str__", "email", "phone_number", "account", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["nickname", "email", "phone_number", "uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    readonly_fields = ["uuid", "created_at"]
    autocomplete_fields = ["account"]

    def save_model(self, request, obj, form, change):
        # Through the services, as the API: a new lead is announced (lead.added) there.
        if change:
            lead_update(lead=obj, **{name: form.cleaned_data[name] for name in form.changed_data})
            return
        fields = dict(form.cleaned_data)
        lead = lead_create(account=fields.pop("account"), **fields)
        # The admin goes on with the instance its form built (the log, the redirect).
        vars(obj).update(vars(lead))
