from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.views import ApiTokenView
from askhandle.api import views as api_views
from askhandle.api.constants import LABEL_PATH_REGEX
from askhandle.api.routers import OptionalSlashRouter
from bot.views import KnowledgeGapViewSet, RoomHandBackView
from keywords.views import KeywordNotificationViewSet, KeywordViewSet
from knowledge.views import KnowledgeEntryViewSet
from leads.views import LeadViewSet
from messaging.views import MessageViewSet
from rooms.views import RoomEventsView, RoomViewSet
from webhooks.views import EventStreamView, WebhookViewSet

router = OptionalSlashRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("rooms", RoomViewSet, basename="room")
router.register("messages", MessageViewSet, basename="message")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("keywords", KeywordViewSet, basename="keyword")
router.register(
    "keyword_notifications", KeywordNotificationViewSet, basename="keyword-notification"
)
router.register("knowledge", KnowledgeEntryViewSet, basename="knowledge")
router.register("knowledge_gaps", KnowledgeGapViewSet, basename="knowledge-gap")

api_v1 = [
    re_path(r"^auth/api-token/?$", ApiTokenView.as_view(), name="api-token"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # An extension: a conversation handed back to the bot (docs/people.md).
    re_path(
        rf"^rooms/(?P<label>{LABEL_PATH_REGEX})/hand_back/?$",
        RoomHandBackView.as_view(),
        name="room-hand-back",
    ),
    # Extensions: the live streams (Server-Sent Events, docs/streams.md).
    re_path(r"^events/?$", EventStreamView.as_view(), name="events"),
    re_path(
        rf"^rooms/(?P<label>{LABEL_PATH_REGEX})/events/?$",
        RoomEventsView.as_view(),
        name="room-events",
    ),
    path("", include(router.urls)),
    # Anything else under the API is a JSON 404, whatever DEBUG says.
    re_path(r"", api_views.not_found),
]

urlpatterns = [
    path("healthz", api_views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", api_views.not_found),
]

handler400 = api_views.bad_request
handler403 = api_views.permission_denied
handler404 = api_views.not_found
handler500 = api_views.server_error
