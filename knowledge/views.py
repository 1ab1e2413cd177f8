from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from askhandle.api.constants import UUID_PATH_REGEX
from idempotency.decorators import IdempotentCreateMixin

from .filters import KnowledgeEntryFilter
from .models import KnowledgeEntry
from .serializers import KnowledgeEntrySerializer
from .services import knowledge_entry_create, knowledge_entry_update


@extend_schema_view(
    list=extend_schema(
        description="(Extension) What your bot knows, newest first; with `search`, best match "
        "first."
    ),
    create=extend_schema(description="(Extension) Teach your bot an answer."),
    retrieve=extend_schema(description="(Extension) One of your knowledge entries."),
    update=extend_schema(description="(Extension) Update an entry (fields left out keep theirs)."),
    partial_update=extend_schema(description="(Extension) Update some fields of an entry."),
    destroy=extend_schema(description="(Extension) Delete an entry."),
)
class KnowledgeEntryViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = KnowledgeEntrySerializer
    filterset_class = KnowledgeEntryFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        # The vector is the bot's (knowledge/semantic.py), never shown: not read here.
        return (
            KnowledgeEntry.objects.filter(account=self.request.user)
            .defer("embedding")
            .order_by("-created_at", "-id")
        )

    def perform_create(self, serializer):
        serializer.instance = knowledge_entry_create(
            account=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        knowledge_entry_update(entry=serializer.instance, **serializer.validated_data)
