import django_filters

from .models import Delivery, DeliveryStatus, EventType, Webhook


class WebhookFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(choices=EventType.choices)

    class Meta:
        model = Webhook
        fields = ["event", "is_active"]


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = ["status"]
