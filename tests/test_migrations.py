"""Migrations import no live module of the project: what an old migration does must not change
when the project's code does (it once imported the page cache's trigger SQL)."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PROJECT = {"askhandle", *(config.name.split(".")[0] for config in apps.get_app_configs())} - {
    "django",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_tasks",
    "django_tasks_db",
    "whitenoise",
}
MIGRATIONS = sorted(path for path in ROOT.glob("**/migrations/*.py") if ".venv" not in path.parts)


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))  # relative: the app itself
    return found


def test_the_project_has_migrations_to_check():
    assert len(MIGRATIONS) > 20
    assert {"accounts", "askhandle", "messaging"} <= PROJECT


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_migration_imports_no_live_module(path):
    live = {
        module
        for module in imported_modules(path)
        if module.startswith(".") or module.split(".")[0] in PROJECT
    }
    assert live == set(), f"{path.relative_to(ROOT)} imports {sorted(live)}"
