from django.contrib.auth import authenticate
from rest_framework import serializers


class ApiTokenRequestSerializer(serializers.Serializer):
    """Credentials for `POST /auth/api-token`; the error texts are DRF authtoken's, which the
    hosted API answers with."""

    username = serializers.CharField(write_only=True, max_length=150)
    password = serializers.CharField(
        write_only=True, max_length=4096, style={"input_type": "password"}, trim_whitespace=False
    )

    def validate(self, attrs):
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        # An account's people log into the admin only: the API acts for accounts.
        if user is None or user.account_id is not None:
            raise serializers.ValidationError(
                "Unable to log in with provided credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs


class ApiTokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="The new API key (40 hex). Shown once.")
