from django.core.management.base import BaseCommand

from idempotency.services import idempotency_keys_purge


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_SECONDS (24 h). "
        "Expired keys are already ignored; this only reclaims space. Run it daily (cron)."
    )

    def handle(self, *args, **options):
        deleted = idempotency_keys_purge()
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
