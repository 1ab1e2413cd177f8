from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, Max
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import User

from .models import BotSettings, HandOff, KnowledgeGap
from .selectors import knowledge_gaps

# Accounts offered to a superuser on the knowledge gaps page (those with the latest hand-offs).
GAP_ACCOUNTS_SHOWN = 200


@admin.register(BotSettings)
class BotSettingsAdmin(admin.ModelAdmin):
    list_display = ["account", "greeting_message", "handoff_message"]
    search_fields = ["account__username"]
    list_select_related = ["account"]
    autocomplete_fields = ["account"]


@admin.register(HandOff)
class HandOffAdmin(admin.ModelAdmin):
    """Conversations waiting for a person: the bot is off in their rooms."""

    list_display = ["room", "account", "reason", "question", "created_at"]
    list_filter = ["reason", "created_at"]
    search_fields = ["room__label", "room__name", "message__body", "account__username"]
    date_hierarchy = "created_at"
    list_select_related = ["room", "account", "message"]
    readonly_fields = ["account", "room", "message", "reason", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    @admin.display(description="visitor's message")
    def question(self, obj):
        return obj.message.body[:100]

    def has_add_permission(self, request):
        return False


@admin.register(KnowledgeGap)
class KnowledgeGapAdmin(admin.ModelAdmin):
    """An account's handed-off questions grouped by meaning (bot.selectors), newest first, each
    with a link that opens a new knowledge entry prefilled with the question. A page of its own
    instead of the change list: its rows are groups, not hand-offs."""

    def gaps_account(self, request) -> User | None:
        """Whose gaps are shown: the user's own account, or for a superuser the account chosen
        with `?account=<id>` (None: the choice of accounts is shown). The one place that scopes
        this page."""
        if not request.user.is_superuser:
            return request.user
        chosen = request.GET.get("account", "")
        return User.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # the admin's own refusal
        account = self.gaps_account(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Knowledge gaps" + (f" of {account}" if account else ""),
            "account": account,
            **(extra_context or {}),
        }
        if account is None:
            context["accounts"] = (
                HandOff.objects.values("account_id", "account__username")
                .annotate(hand_offs=Count("id"), latest=Max("created_at"))
                .order_by("-latest")[:GAP_ACCOUNTS_SHOWN]
            )
        else:
            add_url = reverse("admin:knowledge_knowledgeentry_add")
            context["gaps"] = [
                {
                    "gap": gap,
                    # The add form takes its initial values from the query string.
                    "answer_url": add_url
                    + "?"
                    + urlencode({"account": account.pk, "question": gap.question}),
                }
                for gap in knowledge_gaps(hand_offs=HandOff.objects.filter(account=account))
            ]
        return TemplateResponse(request, "admin/bot/knowledgegap/gaps.html", context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
