from django.apps import AppConfig


class RateLimitsConfig(AppConfig):
    name = "askhandle.api.rate_limits"
    label = "rate_limits"
    verbose_name = "rate limits"
