from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes that answer with and without their trailing slash, without a redirect (a client
    cannot follow a redirect for a POST)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
