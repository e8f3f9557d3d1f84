# newsflow image: the pipeline and its dependencies baked in (no installs at container start).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flows ./flows
COPY tasks ./tasks
COPY storage ./storage
# The client's Prefect is the server image's (docker-compose.yml's prefect-server tag; a test
# keeps the two equal): a newer client can send what an older server does not understand.
ARG PREFECT_VERSION=3.9.1
RUN pip install --no-cache-dir . "prefect==${PREFECT_VERSION}"
COPY sources.yaml prefect.yaml ./
RUN useradd --create-home newsflow
USER newsflow
CMD ["prefect", "worker", "start", "--pool", "newsflow", "--type", "process"]
