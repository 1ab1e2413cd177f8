from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from askhandle.api.quotas import QuotaExceeded
from knowledge.importers import FORMATS, PARSERS, ImportFileError, parse_knowledge_file
from knowledge.services import knowledge_import

PROGRESS_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Import knowledge entries for an account from a CSV, JSON or Markdown file. Entries are "
        "matched by question: new ones are created, changed ones updated, unchanged ones skipped. "
        "A malformed file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv, .json or .md file (see docs/bot.md)")
        parser.add_argument(
            "--account", required=True, help="the username of the account the entries are for"
        )
        parser.add_argument(
            "--format", choices=sorted(PARSERS), help="the file's format (default: by extension)"
        )

    def handle(self, *args, file, account, format, **options):
        self.verbosity = options["verbosity"]
        path = Path(file)
        format = format or FORMATS.get(path.suffix.lower())
        if format is None:
            raise CommandError(
                f"Cannot tell the format of {file}: name it .csv, .json or .md, or give --format."
            )
        user = get_user_model().objects.filter(username=account).first()
        if user is None:
            raise CommandError(f'No account "{account}".')
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        try:
            entries = parse_knowledge_file(text, format)
        except ImportFileError as error:
            where = f"{file}, line {error.line}" if error.line else file
            raise CommandError(f"{where}: {error.message}. Nothing was imported.") from None
        try:
            report = knowledge_import(account=user, entries=entries, progress=self.progress)
        except QuotaExceeded as error:
            raise CommandError(f"{error.detail} Nothing was imported.") from None
        if entries and self.verbosity > 0:
            self.stderr.write("")
        self.stdout.write(
            f"{len(entries)} entries in {file}: {report.created} created, "
            f"{report.updated} updated, {report.skipped} skipped (unchanged)."
        )

    def progress(self, done: int, total: int) -> None:
        if self.verbosity > 0:
            filled = PROGRESS_WIDTH * done // total
            bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
            self.stderr.write(f"\rImporting [{bar}] {done}/{total}", ending="")
            self.stderr.flush()
