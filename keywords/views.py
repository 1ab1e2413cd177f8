from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from askhandle.api.constants import UUID_PATH_REGEX
from idempotency.decorators import IdempotentCreateMixin

from .filters import KeywordNotificationFilter
from .models import Keyword, KeywordNotification
from .serializers import KeywordNotificationSerializer, KeywordSerializer
from .services import keyword_save


@extend_schema_view(
    list=extend_schema(description="Your keywords (an extension to the hosted API)."),
    create=extend_schema(
        description="Add a keyword: visitor messages containing it (case-insensitive, whole "
        "words) record a keyword notification."
    ),
)
class KeywordViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = KeywordSerializer
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return Keyword.objects.filter(account=self.request.user).order_by("keyword", "id")

    def perform_create(self, serializer):
        keyword = Keyword(account=self.request.user, **serializer.validated_data)
        serializer.instance = keyword_save(keyword=keyword)

    def perform_update(self, serializer):
        for name, value in serializer.validated_data.items():
            setattr(serializer.instance, name, value)
        keyword_save(keyword=serializer.instance)


@extend_schema_view(
    list=extend_schema(description="Visitor messages that contained one of your keywords."),
    retrieve=extend_schema(description="One keyword notification."),
)
class KeywordNotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = KeywordNotificationSerializer
    filterset_class = KeywordNotificationFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return (
            KeywordNotification.objects.filter(account=self.request.user)
            .select_related("message__room", "room")
            .order_by("-created_at", "-id")
        )
