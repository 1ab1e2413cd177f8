"""Reading knowledge files: CSV, JSON or Markdown, each entry with the line it starts on.

Every problem is an `ImportFileError` naming the line, found before anything is written.
"""

import csv
import io
import json
import re

from .models import KnowledgeEntry
from .services import EntryData, question_key

QUESTION_MAX = KnowledgeEntry._meta.get_field("question").max_length
ANSWER_MAX = KnowledgeEntry._meta.get_field("answer").max_length
TAGS_MAX = KnowledgeEntry._meta.get_field("tags").max_length
FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown"}


class ImportFileError(Exception):
    def __init__(self, line: int | None, message: str):
        self.line, self.message = line, message
        super().__init__(f"line {line}: {message}" if line else message)


def entry_data(*, question, answer, tags, line: int) -> EntryData:
    if not isinstance(question, str) or not question.strip():
        raise ImportFileError(line, "the question is missing or empty")
    if not isinstance(answer, str) or not answer.strip():
        raise ImportFileError(line, "the answer is missing or empty")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ImportFileError(line, "tags must be a list of strings or a comma-separated string")
    question, answer = " ".join(question.split()), answer.strip()
    tags = tuple(t.strip() for t in tags if t.strip())
    if len(question) > QUESTION_MAX:
        raise ImportFileError(line, f"the question is longer than {QUESTION_MAX} characters")
    if len(answer) > ANSWER_MAX:
        raise ImportFileError(line, f"the answer is longer than {ANSWER_MAX} characters")
    if len(", ".join(tags)) > TAGS_MAX:
        raise ImportFileError(line, f"the tags are longer than {TAGS_MAX} characters in all")
    return EntryData(question=question, answer=answer, tags=tags, line=line)


def parse_csv(text: str) -> list[EntryData]:
    """A header row with `question` and `answer` columns, `tags` optional (comma-separated)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(1, "the file is empty (expected a header row)")
        columns = [name.strip().lower() for name in header]
        for needed in ("question", "answer"):
            if needed not in columns:
                raise ImportFileError(1, f'the header has no "{needed}" column')
        unknown = set(columns) - {"question", "answer", "tags"}
        if unknown:
            raise ImportFileError(1, f"unknown column(s): {', '.join(sorted(unknown))}")
        entries = []
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) != len(columns):
                    raise ImportFileError(line, f"expected {len(columns)} fields, found {len(row)}")
                values = dict(zip(columns, row, strict=True))
                entries.append(
                    entry_data(
                        question=values["question"],
                        answer=values["answer"],
                        tags=values.get("tags", ""),
                        line=line,
                    )
                )
            line = reader.line_num + 1
    except csv.Error as error:
        raise ImportFileError(reader.line_num, f"malformed CSV: {error}") from None
    return entries


def parse_json(text: str) -> list[EntryData]:
    """An array of objects `{"question", "answer", "tags"?}` (tags a list or a string)."""
    decoder = json.JSONDecoder()

    def line_at(position: int) -> int:
        return text.count("\n", 0, position) + 1

    def skip_space(position: int) -> int:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        return position

    try:
        position = skip_space(0)
        if position >= len(text) or text[position] != "[":
            raise ImportFileError(line_at(position), "expected a JSON array of entries")
        position = skip_space(position + 1)
        entries = []
        if position < len(text) and text[position] == "]":
            position += 1
        else:
            while True:
                start = position
                item, position = decoder.raw_decode(text, position)
                if not isinstance(item, dict):
                    raise ImportFileError(line_at(start), "each entry must be a JSON object")
                unknown = set(item) - {"question", "answer", "tags"}
                if unknown:
                    raise ImportFileError(
                        line_at(start), f"unknown key(s): {', '.join(sorted(unknown))}"
                    )
                entries.append(
                    entry_data(
                        question=item.get("question"),
                        answer=item.get("answer"),
                        tags=item.get("tags", []),
                        line=line_at(start),
                    )
                )
                position = skip_space(position)
                if position < len(text) and text[position] == ",":
                    position = skip_space(position + 1)
                elif position < len(text) and text[position] == "]":
                    position += 1
                    break
                else:
                    raise ImportFileError(line_at(position), "expected ',' or ']'")
        if skip_space(position) != len(text):
            raise ImportFileError(line_at(position), "unexpected text after the array")
    except json.JSONDecodeError as error:
        raise ImportFileError(error.lineno, f"malformed JSON: {error.msg}") from None
    return entries


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TAGS_LINE = re.compile(r"^tags\s*:\s*(.*)$", re.IGNORECASE)
FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markdown(text: str) -> list[EntryData]:
    """One entry per heading: the heading is the question, the text under it the answer. A line
    `Tags: a, b` under a heading gives its tags."""
    entries = []
    current: dict | None = None
    in_fence = False

    def finish():
        if current is not None:
            entries.append(
                entry_data(
                    question=current["question"],
                    answer="\n".join(current["lines"]).strip(),
                    tags=current["tags"],
                    line=current["line"],
                )
            )

    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else HEADING.match(line)
        if heading:
            finish()
            current = {"question": heading.group(2), "lines": [], "tags": "", "line": number}
            continue
        if current is None:
            if line.strip():
                raise ImportFileError(
                    number,
                    "text before the first heading (each entry is a "
                    "heading followed by its answer)",
                )
            continue
        tags = None if in_fence else TAGS_LINE.match(line.strip())
        if tags and not current["tags"]:
            current["tags"] = tags.group(1)
        else:
            current["lines"].append(line)
    finish()
    return entries


PARSERS = {"csv": parse_csv, "json": parse_json, "markdown": parse_markdown}


def parse_knowledge_file(text: str, format: str) -> list[EntryData]:
    entries = PARSERS[format](text)
    seen: dict[str, int] = {}
    for entry in entries:
        key = question_key(entry.question)
        if key in seen:
            raise ImportFileError(
                entry.line, f"the same question as line {seen[key]}: {entry.question!r}"
            )
        seen[key] = entry.line
    return entries
