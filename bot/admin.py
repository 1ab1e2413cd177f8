from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_scope import AccountScopedAdmin, admin_account_id
from accounts.models import User
from messaging.admin import ADMIN_ANSWERING
from messaging.models import Message
from messaging.services import message_create
from rooms.models import Room
from webhooks.streams import wake_stream

from .models import BotSettings, HandOff, InboxRoom, KnowledgeGap
from .selectors import knowledge_gaps
from .services import room_close, room_hand_back, rooms_waiting

# Accounts offered to a superuser on the knowledge gaps page (those with the latest hand-offs).
GAP_ACCOUNTS_SHOWN = 200
# The conversation page shows the newest messages of a room, oldest first (a room can hold any
# number; the rest page through the API's `GET /messages/?room=`).
INBOX_MESSAGES = 100


class InboxPermissions:
    """A staff login needs no model permission for its own account's inbox: answering its
    visitors is what it is there for. What it sees is scoped by AccountScopedAdmin."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BotSettings)
class BotSettingsAdmin(AccountScopedAdmin):
    list_display = ["account", "greeting_message", "handoff_message"]
    search_fields = ["account__username"]
    list_select_related = ["account"]
    autocomplete_fields = ["account"]


def _rooms_action(modeladmin, request, queryset, *, service, done: str):
    """`service(room=...)` for each room of the selected rows (rooms, or hand-offs' rooms)."""
    rooms = {obj.room if isinstance(obj, HandOff) else obj for obj in queryset}
    for room in rooms:
        service(room=room)
    modeladmin.message_user(request, f"{len(rooms)} conversation(s) {done}.")


@admin.action(description="Hand back to the bot")
def hand_back(modeladmin, request, queryset):
    _rooms_action(
        modeladmin, request, queryset, service=room_hand_back, done="handed back to the bot"
    )


@admin.action(description="Close")
def close(modeladmin, request, queryset):
    _rooms_action(modeladmin, request, queryset, service=room_close, done="closed")


@admin.register(HandOff)
class HandOffAdmin(AccountScopedAdmin):
    """Conversations waiting for a person: the bot is off in their rooms."""

    list_display = ["room", "account", "reason", "question", "created_at", "resolution"]
    list_filter = ["reason", "resolution", "created_at"]
    search_fields = ["room__label", "room__name", "message__body", "account__username"]
    date_hierarchy = "created_at"
    list_select_related = ["room", "account", "message"]
    readonly_fields = [
        "account", "room", "message", "reason", "created_at", "resolved_at", "resolution",
    ]  # fmt: skip
    actions = [hand_back, close]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    @admin.display(description="visitor's message")
    def question(self, obj):
        return obj.message.body[:100]

    def has_add_permission(self, request):
        return False


@admin.register(KnowledgeGap)
class KnowledgeGapAdmin(AccountScopedAdmin):
    """An account's handed-off questions grouped by meaning (bot.selectors), newest first, each
    with a link that opens a new knowledge entry prefilled with the question. A page of its own
    instead of the change list: its rows are groups, not hand-offs."""

    def gaps_account(self, request) -> User | None:
        """Whose gaps are shown: the user's own account, or for a superuser the account chosen
        with `?account=<id>` (None: the choice of accounts is shown). The one place that scopes
        this page."""
        account_id = admin_account_id(request)
        if account_id is not None:
            return User.objects.get(pk=account_id)
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


class ReplyForm(forms.Form):
    body = forms.CharField(
        max_length=Message._meta.get_field("body").max_length,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "id": "inbox-reply-body"}),
    )
    nickname = forms.CharField(
        max_length=Message._meta.get_field("nickname").max_length,
        required=False,
        widget=forms.TextInput(attrs={"id": "inbox-reply-nickname"}),
        help_text="Shown to the visitor as the sender.",
    )


@admin.register(InboxRoom)
class InboxAdmin(InboxPermissions, AccountScopedAdmin):
    """The inbox of the people answering: the conversations waiting for a person, newest
    activity first (bot.services.rooms_waiting); a conversation opens with its messages and a
    reply box. DOM ids and classes are stable (docs/people.md): a live-update script and
    browser tests rely on them."""

    list_display = ["conversation", "account", "waiting_for", "latest_message", "last_activity"]
    list_display_links = None
    search_fields = ["label", "name"]
    actions = [hand_back, close]
    change_list_template = "admin/bot/inboxroom/change_list.html"
    conversation_template = "admin/bot/inboxroom/conversation.html"

    def get_queryset(self, request):
        rooms = self.account_rooms(request, Room.objects.all())
        return rooms_waiting(rooms=rooms).select_related("account")

    def get_ordering(self, request):
        return ["-last_activity", "-id"]

    @staticmethod
    def account_rooms(request, rooms):
        """The rooms of the login's account (every account's for a superuser)."""
        account_id = admin_account_id(request)
        return rooms if account_id is None else rooms.filter(account_id=account_id)

    @admin.display(description="conversation")
    def conversation(self, room):
        url = reverse("admin:bot_inboxroom_change", args=[room.pk])
        return format_html(
            '<a class="inbox-conversation" href="{}" data-room-uuid="{}" data-room-label="{}">'
            "{}</a>",
            url,
            room.uuid,
            room.label,
            room.name or room.label,
        )

    @admin.display(description="waiting for")
    def waiting_for(self, room):
        return "hand-off" if room.has_open_hand_off else "an answer"

    @admin.display(description="latest message")
    def latest_message(self, room):
        return (room.latest_body or "")[:100]

    @admin.display(description="last activity")
    def last_activity(self, room):
        return room.last_activity

    def get_urls(self):
        # The inbox's live updates (docs/people.md): askhandle/asgi.py serves this path on the
        # event loop, as the API's streams.
        events = path(
            "events/",
            self.admin_site.admin_view(self.events_view),
            name="bot_inboxroom_events",
        )
        return [events, *super().get_urls()]

    def events_view(self, request):
        """Server-Sent Events: `changed` (with the ids of the rooms) whenever the log of the
        login's account grows (every account's for a superuser); the inbox's script reloads
        the list or the open conversation (webhooks.streams.wake_stream)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return wake_stream(account_id=admin_account_id(request))

    def conversation_get(self, request, object_id) -> Room:
        # Any room of the account opens, waiting or not (after a reply it waits no longer).
        try:
            return self.account_rooms(request, Room.objects.select_related("account")).get(
                pk=int(object_id)
            )
        except (ValueError, Room.DoesNotExist):
            raise Http404("No such conversation.") from None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        room = self.conversation_get(request, object_id)
        here = reverse("admin:bot_inboxroom_change", args=[room.pk])
        inbox = reverse("admin:bot_inboxroom_changelist")
        form = ReplyForm(initial={"nickname": request.user.first_name or request.user.username})
        if request.method == "POST":
            if not self.has_change_permission(request, room):
                raise PermissionDenied
            if "_hand_back" in request.POST:
                room_hand_back(room=room)
                self.message_user(request, f"{room} is handed back to the bot.")
                return HttpResponseRedirect(inbox)
            if "_close" in request.POST:
                room_close(room=room)
                self.message_user(request, f"{room} is closed.")
                return HttpResponseRedirect(inbox)
            form = ReplyForm(request.POST)
            if form.is_valid():
                message_create(
                    account=room.account,
                    room=room,
                    answer=ADMIN_ANSWERING,
                    body=form.cleaned_data["body"],
                    nickname=form.cleaned_data["nickname"],
                    is_support_sender=True,
                )
                self.message_user(request, "Your reply is sent.", messages.SUCCESS)
                return HttpResponseRedirect(here)
        newest = Message.objects.filter(room=room).order_by("-sent_at", "-id")[:INBOX_MESSAGES]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Conversation {room}",
            "room": room,
            "conversation": list(reversed(newest)),
            "open_hand_offs": list(room.hand_offs.filter(resolved_at__isnull=True)),
            "form": form,
            "inbox_url": inbox,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.conversation_template, context)
