# jixiao: FastAPI scoring service.
# Build:  docker build -t jixiao .
# Run:    docker run -e DATABASE_URL=postgresql://user:pass@host:5432/jixiao -p 8000:8000 jixiao

############################
# Builder: project + deps into /opt/venv
############################
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A C compiler lets setup.py compile the scoring engine with mypyc (about twice as fast).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
# Only what the wheel build needs (readme is referenced by pyproject.toml).
COPY pyproject.toml setup.py mypyc.ini README.md ./
COPY app ./app
COPY migrations ./migrations

# Non-editable install: pip builds a wheel of the project and installs it with its dependencies.
RUN pip install --no-cache-dir .

############################
# Runtime
############################
FROM python:3.11-slim AS runtime

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    JIXIAO_RULESETS_DIR=/app/rulesets \
    JIXIAO_ENV=production

RUN groupadd --system --gid 10001 jixiao \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin jixiao

WORKDIR /app

# Root-owned and read-only for the service user: nothing here is written at runtime.
COPY --from=builder /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY rulesets ./rulesets

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Migrate, then hand PID 1 to uvicorn so it receives SIGTERM directly.
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers"]
