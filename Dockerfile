# dms-tasks-bot: `docker build -t dms-tasks-bot . && docker run --env-file bot.env -p 3000:3000 dms-tasks-bot`
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=3000 DMS_BOT_DB=/data/dms-tasks-bot.db
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot /data
USER bot
WORKDIR /home/bot
# The digest subscriptions (SQLite) outlive the container here; with REDIS_URL set it is unused.
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/healthz', timeout=2)" || exit 1
CMD ["dms-tasks-bot", "serve"]
