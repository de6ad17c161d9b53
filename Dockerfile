# syntax=docker/dockerfile:1
# cowin-kit web and worker image.
#
#   docker build -t cowin-kit:0.1.0 .
#   docker run -p 8000:8000 -e COWIN_KIT_DATABASE_URL=... -e COWIN_KIT_SECRET_KEY=... cowin-kit:0.1.0
#
# One image, three uses (the Helm chart runs each): the web server (the default command
# below), `cowin-kit worker`, and one-off `cowin-kit db upgrade` / `pack install` / `users`
# jobs. tests/deploy/test_container.py runs this file's command and environment on the test
# machine.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the kit, its dependencies and compiled catalogs -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so that code changes do not reinstall them.
COPY setup.cfg pyproject.toml README.md LICENSE ./
COPY cowin_kit/__init__.py cowin_kit/__init__.py
RUN pip install --upgrade pip && pip install .
COPY cowin_kit cowin_kit
RUN pip install --no-deps --force-reinstall . \
    && cowin-kit i18n compile \
    && python -m compileall -q /opt/venv/lib

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG APP_UID=10001
# fonts-noto-core: the scripts of certificate and slip PDFs (Devanagari, Arabic, ...);
# fonts-dejavu-core: the Latin/Cyrillic fallback (FONT_DIRS).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        fonts-noto-core fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid ${APP_UID} cowin \
    && useradd --system --uid ${APP_UID} --gid cowin --home-dir /app --shell /usr/sbin/nologin cowin \
    && mkdir -p /app /var/lib/cowin-kit \
    && chown cowin:cowin /var/lib/cowin-kit
COPY --from=build /opt/venv /opt/venv
COPY gunicorn.conf.py /app/gunicorn.conf.py
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    COWIN_KIT_INSTANCE_PATH=/var/lib/cowin-kit \
    COWIN_KIT_LOG_FORMAT=json
# gunicorn.conf.py keeps the workers' metrics in a fresh folder under /tmp
# (PROMETHEUS_MULTIPROC_DIR); /tmp is the one writable place (an emptyDir in Kubernetes).
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "cowin_kit.wsgi:app"]
