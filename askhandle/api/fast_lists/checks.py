from django.core import checks
from django.db import connections


def triggers_declared(app_configs=None, databases=None, **kwargs):
    """The database's fast-path triggers are the declared ones.

    A warning, not an error: `migrate` runs the checks before it migrates, and it is `migrate`
    that puts the triggers back (`check --fail-level WARNING`, as CI runs it, still fails).
    Meanwhile the fast path stays off in every process that finds them missing, so lists stay
    exact."""
    from . import triggers

    found = []
    for alias in databases or ():
        connection = connections[alias]
        if not triggers.supported(connection) or not triggers.tables_exist(connection):
            continue
        for problem in triggers.problems(connection):
            found.append(
                checks.Warning(
                    f"Fast lists on database {alias!r}: {problem}.",
                    hint="Run `manage.py migrate` (it installs them again and recounts).",
                    id="fast_lists.W001",
                )
            )
    return found
