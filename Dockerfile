# mock-esd in a container: the README's install steps, run by a user who is not root.
# No image registry carries it; build it yourself:   docker build -t mock-esd .
# Serve a district on this machine's port 8080:      docker run --rm -p 127.0.0.1:8080:8080 mock-esd
# The mock with a sync run beside it: compose.yaml (docker compose up --build).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH

RUN useradd --create-home --uid 10001 --user-group esd \
    && mkdir /data \
    && chown esd:esd /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY mock_esd ./mock_esd
COPY sync ./sync
COPY workbench ./workbench
# The README's first command, less the demo:
RUN python3 -m venv .venv && .venv/bin/pip install -e '.[all]'

# esd, made above (by number, so the host can resolve it): never root
USER 10001:10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/openapi.json', timeout=4)"]
# Beyond loopback: client secrets are random per start (printed at start; --secret-key fixes them).
CMD ["mock-esd", "serve", "--host", "0.0.0.0", "--port", "8080"]
