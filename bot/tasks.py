from django_tasks import task

from .services import message_answer_complete_now


@task()
def message_answer_complete(message_id: int, attempt: int = 1) -> bool:
    """Answer a visitor message that was not answered within the budget (see bot.services)."""
    return message_answer_complete_now(message_id=message_id, attempt=attempt)
