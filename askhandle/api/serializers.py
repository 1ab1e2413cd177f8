from django.db import models
from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings


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


def datetime_json(value, tz=None):
    """A datetime as DRF's DateTimeField renders it (`DATETIME_FORMAT`, in the current time
    zone), for representations written out by hand on hot paths. For many values, pass
    `tz=timezone.get_current_timezone()`, looked up once: per value, it was most of the cost."""
    if not value:
        return None
    return timezone.localtime(value, tz).strftime(api_settings.DATETIME_FORMAT)
