from django.db import models
from rest_framework import serializers


class NullAsBlankMixin:
    """For optional text (a model field with blank=True): `null` is taken as "", since
    connectors send `null` for the fields they don't have and the API always renders a string."""

    def validate_empty_values(self, data):
        if data is None and self.allow_blank and not self.read_only:
            return True, ""
        return super().validate_empty_values(data)


class BlankableCharField(NullAsBlankMixin, serializers.CharField):
    pass


class BlankableEmailField(NullAsBlankMixin, serializers.EmailField):
    pass


class ModelSerializer(serializers.ModelSerializer):
    """The project's ModelSerializer: optional text fields accept `null` as blank."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: BlankableCharField,
        models.TextField: BlankableCharField,
        models.EmailField: BlankableEmailField,
    }
