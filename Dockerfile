# drainwatch: log drains in, outage reports out.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRAINWATCH_BUNDLED_PATTERNS_DIR=/app/patterns \
    DRAINWATCH_TEMPLATES_DIR=/app/templates \
    DRAINWATCH_DATABASE_URL=sqlite:////data/drainwatch.db \
    DRAINWATCH_SPOOL_DIR=/data/spool

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service/ service/
RUN pip install .
COPY patterns/ patterns/
COPY templates/ templates/

RUN drainwatch patterns check \
    && useradd --system --uid 10001 --home-dir /data --create-home drainwatch

USER drainwatch
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["drainwatch", "serve", "--host", "0.0.0.0", "--port", "8000"]
