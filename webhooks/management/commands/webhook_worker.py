import os
import signal

from django.core.management.base import BaseCommand

from webhooks import worker


class Command(BaseCommand):
    help = (
        "Deliver webhooks: send due deliveries, record every attempt and retry failures. "
        "Run one or more (any number of processes or machines against the same database)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            help="Deliveries sent at once (default 4). Whatever the workers, one account has at "
            "most WEBHOOK_ACCOUNT_CONCURRENCY and one target WEBHOOK_TARGET_CONCURRENCY in flight.",
        )
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=1.0,
            help="Seconds between looks for due deliveries when idle (default 1).",
        )
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")
        parser.add_argument(
            "--exit-with-parent",
            action="store_true",
            help="Exit when the process that started this one exits (used by ./dev serve).",
        )

    def handle(self, *args, concurrency, poll_interval, once, exit_with_parent, **options):
        stopping = []
        parent = os.getppid()

        def stop(signum, frame):
            stopping.append(signum)

        # Finish the attempts in flight (their leases would otherwise have to lapse) and exit.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        def should_stop():
            return bool(stopping) or (exit_with_parent and os.getppid() != parent)

        if not once:
            self.stderr.write(f"Webhook worker started (concurrency {concurrency}).")
        worker.run(
            concurrency=max(1, concurrency),
            poll_interval=poll_interval,
            once=once,
            should_stop=should_stop,
        )
