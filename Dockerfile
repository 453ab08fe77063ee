# lastmile: one image for every replica; PostgreSQL via DATABASE_URL in production.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=3978
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot bot
COPY adapters adapters
COPY storage storage
COPY prompts prompts
COPY lastmile lastmile
# A fixed numeric id, so volumes and the host's tools agree on who owns what.
RUN pip install --no-cache-dir . \
    && groupadd --gid 10001 lastmile \
    && useradd --uid 10001 --gid 10001 --create-home lastmile

USER 10001:10001
WORKDIR /home/lastmile
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3978') + '/healthz', timeout=2)"]
# Run `lastmile db upgrade` once per release (a one-shot job, as in docker-compose.yml),
# then start the replicas.
CMD ["lastmile", "serve"]
