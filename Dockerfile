# AdaptiveProxy gateway image. Two stages on one base (ARG BASE: any Debian/Ubuntu-like image with
# python3 >= 3.11 and python3-venv; `make base-image` builds one from debootstrap here, where no
# registry can be pulled from):
#   wheels  — a venv installed offline (`pip install --no-index`) from the wheelhouse that
#             `make wheelhouse` builds on the host (runtime dependencies at requirements.lock's pins);
#   runtime — that venv only, run as an unprivileged user.
# Config: mount a YAML file at $ADAPTIVE_PROXY_CONFIG (default: the repository's config.yaml,
# copied in); every ${VAR} in it comes from the container's environment.
ARG BASE=adaptive-proxy-base:bookworm

FROM ${BASE} AS wheels
COPY build/wheelhouse /wheelhouse
COPY requirements.lock /wheelhouse/requirements.lock
RUN python3 -m venv /opt/adaptive-proxy \
 && /opt/adaptive-proxy/bin/pip install --no-index --no-cache-dir --find-links /wheelhouse \
        -c /wheelhouse/requirements.lock adaptive-proxy \
 && /opt/adaptive-proxy/bin/pip uninstall --yes --quiet pip \
 && find /opt/adaptive-proxy -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE} AS runtime
COPY --from=wheels /opt/adaptive-proxy /opt/adaptive-proxy
COPY config.yaml /etc/adaptive-proxy/config.yaml
RUN mkdir -p /var/lib/adaptive-proxy && chown 10001:10001 /var/lib/adaptive-proxy
ENV PATH=/opt/adaptive-proxy/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ADAPTIVE_PROXY_CONFIG=/etc/adaptive-proxy/config.yaml \
    ADAPTIVE_PROXY_HOST=0.0.0.0 \
    ADAPTIVE_PROXY_PORT=8080 \
    ADAPTIVE_PROXY_WORKERS=1
# The embedded SQLite file and the usage spill files go to var/ under the working directory.
WORKDIR /var/lib/adaptive-proxy
USER 10001:10001
EXPOSE 8080
# 503 (a configured component down) and no answer are both unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['ADAPTIVE_PROXY_PORT'], timeout=4)"]
# exec: the server replaces the shell as PID 1 and gets `docker stop`'s SIGTERM itself; uvicorn
# then stops accepting and gives in-flight requests server.shutdown_timeout_s (keep `docker stop
# -t` above it).
# Extra arguments after the image name are appended (e.g. `--env-file /run/secrets/env`).
ENTRYPOINT ["/bin/sh", "-c", "exec adaptive-proxy serve --config \"$ADAPTIVE_PROXY_CONFIG\" --host \"$ADAPTIVE_PROXY_HOST\" --port \"$ADAPTIVE_PROXY_PORT\" --workers \"$ADAPTIVE_PROXY_WORKERS\" \"$@\"", "adaptive-proxy"]
STOPSIGNAL SIGTERM
