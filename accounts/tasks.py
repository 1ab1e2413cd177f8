"""Alert emails to an account, sent by the task worker (accounts.services.account_alert_send)."""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django_tasks import default_task_backend, task

from .models import User

logger = logging.getLogger(__name__)


def alert_retry_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: 1 minute, growing fourfold."""
    return 60 * 4 ** (attempt - 1)


@task()
def alert_email_send(account_id: int, subject: str, body: str, attempt: int = 1) -> bool:
    """Send one alert to the account's email as it is now (an account that removed its email, or
    was deleted, gets nothing). A failure to send (the mail server down or refusing) is tried
    again later, up to ALERT_EMAIL_ATTEMPTS, then logged and given up."""
    recipient = User.objects.filter(pk=account_id, is_active=True).values_list("email", flat=True)
    recipient = recipient.first()
    if not recipient:
        return False
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], fail_silently=False)
    except Exception:
        if attempt < settings.ALERT_EMAIL_ATTEMPTS and default_task_backend.supports_defer:
            logger.warning("Alert email to account %s failed; tried again later.", account_id)
            alert_email_send.using(
                run_after=timezone.now() + dt.timedelta(seconds=alert_retry_delay(attempt))
            ).enqueue(account_id=account_id, subject=subject, body=body, attempt=attempt + 1)
            return False
        raise
    return True
