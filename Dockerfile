# lastmile: one image for every replica; PostgreSQL via DATABASE_URL in production.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=3978
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot bot
COPY adapters adapters
COPY storage storage
COPY prompts prompts
RUN pip install --no-cache-dir . && useradd --create-home lastmile

USER lastmile
WORKDIR /home/lastmile
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
# Run `lastmile db upgrade` once per release (a job or init container), then start replicas.
CMD ["lastmile", "serve"]
