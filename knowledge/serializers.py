from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer

from .models import KnowledgeEntry, tags_join, tags_split


class TagsField(serializers.ListField):
    """Stored as one comma-separated string, shown and written as a list of strings."""

    def to_representation(self, data):
        return tags_split(data) if isinstance(data, str) else super().to_representation(data)


class KnowledgeEntrySerializer(ModelSerializer):
    tags = TagsField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=50,
        help_text="Words visitors may use for the same thing; searched like the question.",
    )

    class Meta:
        model = KnowledgeEntry
        fields = ["uuid", "question", "answer", "tags", "created_at", "updated_at"]
        read_only_fields = ["uuid", "created_at", "updated_at"]

    def validate_tags(self, value):
        if "," in "".join(value):
            raise serializers.ValidationError("A tag may not contain a comma.")
        if len(tags_join(value)) > KnowledgeEntry._meta.get_field("tags").max_length:
            raise serializers.ValidationError("Too many tags (500 characters at most in all).")
        return value
