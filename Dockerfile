# syntax=docker/dockerfile:1
# The winepipe pipeline image: Luigi tasks + PySpark (local mode, Java 17). docker-compose.yml uses it for the
# pipeline run, the optional cron loop, the sample-batch job and luigid (the central scheduler).
#
#   docker compose build            # or: docker build -t winepipe:local .
#
# Settings come from docker/luigi.docker.cfg (LUIGI_CONFIG_PATH), whose ${VAR} references the compose file
# fills from .env. The project's luigi.cfg (local-stack values) is read first; the override replaces every
# host, port, credential and path in it (tests/test_compose.py checks that).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# Java runtime for spark-submit (pyspark 4 needs Java 17+). The man1 directory: some JRE postinst scripts
# expect it in slim images.
RUN set -eux; \
    mkdir -p /usr/share/man/man1; \
    apt-get update; \
    apt-get install -y --no-install-recommends openjdk-17-jre-headless; \
    rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r requirements.txt

# A non-root user with a fixed uid: the sftp-keys init job hands the SFTP client key to this uid.
ARG WINEPIPE_UID=10001
RUN set -eux; \
    groupadd --system --gid "${WINEPIPE_UID}" winepipe; \
    useradd --system --uid "${WINEPIPE_UID}" --gid winepipe --home-dir /home/winepipe --create-home \
        --shell /usr/sbin/nologin winepipe; \
    install -d -o winepipe -g winepipe -m 0750 \
        /var/lib/winepipe/work /var/lib/winepipe/sample /var/lib/winepipe/log /var/lib/luigid /etc/winepipe/sftp

# The project, owned by root: the pipeline user can read it but not change it.
COPY . /app

USER winepipe
ENV LUIGI_CONFIG_PATH=/app/docker/luigi.docker.cfg
CMD ["luigi", "--module", "tasks", "LoadWine", "--workers", "3"]
