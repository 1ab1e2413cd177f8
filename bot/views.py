from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from askhandle.api.pagination import SequencePagination

from .filters import HandOffFilter
from .models import HandOff
from .selectors import MAX_HAND_OFFS, knowledge_gaps
from .serializers import KnowledgeGapSerializer


@extend_schema_view(
    list=extend_schema(
        description="(Extension) The questions your bot handed to a person, grouped when they "
        "ask the same thing (by meaning), newest first: what your knowledge should answer next. "
        f"The newest {MAX_HAND_OFFS} hand-offs in the date range are grouped."
    ),
)
class KnowledgeGapViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = KnowledgeGapSerializer
    filterset_class = HandOffFilter
    pagination_class = SequencePagination

    def get_queryset(self):
        return HandOff.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def list(self, request, *args, **kwargs):
        gaps = knowledge_gaps(hand_offs=self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(gaps)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
