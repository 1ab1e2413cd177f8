from django import forms
from django.contrib import admin, messages
from django.utils.translation import ngettext

from accounts.admin_scope import AccountScopedAdmin, AccountScopedTabularInline
from askhandle.api.quotas import QuotaExceeded

from .models import Delivery, DeliveryAttempt, Webhook
from .safety import check_target
from .services import (
    DeliveryInFlight,
    delivery_redeliver,
    webhook_create,
    webhook_quota_check,
    webhook_secret_rotate,
)


class WebhookAdminForm(forms.ModelForm):
    target = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = Webhook
        fields = ["account", "event", "target", "is_active", "disabled_reason"]

    def clean_target(self):
        target = self.cleaned_data["target"]
        try:
            check_target(target)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return target

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account")
        if self.instance.pk is None and account is not None:
            # The service refuses it too; here it is a form error rather than a failed save.
            try:
                webhook_quota_check(account=account)
            except QuotaExceeded as error:
                self.add_error(None, str(error.detail))
        return cleaned


@admin.register(Webhook)
class WebhookAdmin(AccountScopedAdmin):
    form = WebhookAdminForm
    list_display = ["event", "target", "account", "is_active", "created_at"]
    list_filter = ["event", "is_active", "created_at"]
    search_fields = ["target", "uuid"]
    list_select_related = ["account"]
    # The target's health: failed attempts in a row, and the end of its backoff (docs/webhooks.md).
    readonly_fields = ["uuid", "target_failures", "target_backoff_until", "created_at"]
    autocomplete_fields = ["account"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            # Through the service, as the API (the quota, under the account's lock).
            # The instance save_form built and checked (a login of an account: its own account).
            fields = {name: getattr(obj, name) for name in form.Meta.fields if name != "account"}
            webhook = webhook_create(account=obj.account, **fields)
            # The admin goes on with the instance its form built (the log, the redirect).
            vars(obj).update(vars(webhook))
        if not change:
            self.message_user(
                request,
                f"Signing secret for this subscription (shown once): {obj.secret}",
                messages.WARNING,
            )

    @admin.action(description="Rotate the signing secret of the selected subscriptions")
    def rotate_secret(self, request, queryset):
        for webhook in queryset:
            webhook_secret_rotate(webhook=webhook)
            self.message_user(
                request,
                f"New secret for {webhook} (shown once): {webhook.secret}",
                messages.WARNING,
            )


class DeliveryAttemptInline(AccountScopedTabularInline):
    account_path = "delivery__webhook__account"
    model = DeliveryAttempt
    fields = ["number", "started_at", "status_code", "duration_ms", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(AccountScopedAdmin):
    account_path = "webhook__account"
    list_display = [
        "uuid",
        "event_type",
        "webhook",
        "status",
        "attempt_count",
        "last_status_code",
        "created_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event__type", "created_at"]
    search_fields = ["uuid", "webhook__target", "webhook__uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["webhook", "event"]
    readonly_fields = [
        "uuid",
        "webhook",
        "event",
        "event_data",
        "status",
        "attempt_count",
        "last_status_code",
        "last_error",
        "created_at",
        "next_attempt_at",
        "give_up_at",
        "completed_at",
    ]
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="data")
    def event_data(self, delivery):
        return delivery.event.data

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A log: read-only (the redeliver action still runs from the list).
        return False

    @admin.action(description="Redeliver the selected deliveries now")
    def redeliver(self, request, queryset):
        done = skipped = 0
        for delivery in queryset:
            try:
                delivery_redeliver(delivery=delivery)
                done += 1
            except DeliveryInFlight:
                skipped += 1
        self.message_user(
            request,
            ngettext("%d delivery queued again.", "%d deliveries queued again.", done) % done,
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request, f"{skipped} being attempted right now were left alone.", messages.WARNING
            )
