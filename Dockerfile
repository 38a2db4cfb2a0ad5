# syntax=docker/dockerfile:1
# The serving image: `python -m consumer` and only what it imports (newsclf/ + consumer/),
# ONNX Runtime and an exported model directory. No torch, transformers, training/, export/ or devkit/.
#
#   make image                       # CPU target, built with buildah on the local Debian base
#   make image-test                  # build it and classify real articles through a broker with it
#   docker build --target cpu -t news-classifier:0.1.0-cpu .
#   docker build --target gpu --build-arg MODEL_DIR=artifacts/model-fp16 -t news-classifier:0.1.0-gpu .
#
# Targets: `cpu` (onnxruntime) and `gpu` (onnxruntime-gpu 1.31 with its CUDA 13 + cuDNN 9 libraries
# from the nvidia-*-cu13 wheels that `onnxruntime-gpu[cuda,cudnn]` pins; the service calls
# `ort.preload_dlls()`, so no CUDA base image is needed, only the NVIDIA driver on the node).
# Layers, least to most often changed: base, locked dependencies, model, code.
# docs/deploy.md explains every choice.

# A Python 3.11 on Debian 12 with `python3 -m venv`, pinned by digest. Docker Hub's slim image by
# default; here (no registry) scripts/image/base.sh builds one from Debian packages with debootstrap
# and passes BASE=localhost/newsclf-base@sha256:... . Check/refresh the digest: docs/deploy.md.
ARG BASE=docker.io/library/python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# ---- the virtualenv tool chain, shared by both dependency stages
# checkov:skip=CKV_DOCKER_7: BASE is a build argument pinned by digest (ARG BASE above); checkov cannot resolve it
FROM ${BASE} AS venv
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv

# ---- dependencies from the hashed locks, before any code is copied (code changes reuse this layer).
# Behind a TLS-intercepting proxy, pass its CA as a build secret (never a layer):
#   --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt   (and PIP_INDEX_URL as a build arg)
FROM venv AS deps-cpu
ARG PIP_INDEX_URL=https://pypi.org/simple
COPY requirements/serve-cpu.txt /tmp/requirements.txt
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && /opt/venv/bin/python -c "import onnxruntime, tokenizers, kafka, crc32c, prometheus_client, pydantic_settings" \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools

FROM venv AS deps-gpu
ARG PIP_INDEX_URL=https://pypi.org/simple
COPY requirements/serve-gpu.txt /tmp/requirements.txt
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && /opt/venv/bin/python -c "import onnxruntime, tokenizers, kafka, crc32c, prometheus_client, pydantic_settings" \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools

# ---- the serving code, byte-compiled (the root filesystem is read-only at run time)
FROM venv AS app
COPY newsclf /app/newsclf
COPY consumer /app/consumer
COPY scripts/image/healthcheck.py /app/healthcheck.py
RUN python3 -m compileall -q /app

# ---- the runtime: no pip, no compiler, no shell needed; numeric non-root user. Files are root-owned
# and read-only to the user. The targets below add, in this order: dependencies, model, code.
FROM ${BASE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="news-classifier" \
      org.opencontainers.image.description="Kafka news classification service (ONNX Runtime)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    NEWSCLF_MODEL_DIR=/model \
    NEWSCLF_METRICS_HOST=0.0.0.0 \
    NEWSCLF_METRICS_PORT=8000 \
    NEWSCLF_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Exec form, no shell; probes the port NEWSCLF_METRICS_PORT names.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/healthcheck.py"]
ENTRYPOINT ["python", "-m", "consumer"]

FROM runtime AS gpu
ARG MODEL_DIR=artifacts/model
# The NVIDIA container runtime mounts the driver's libcuda for these capabilities; the device
# plugin sets NVIDIA_VISIBLE_DEVICES per pod. Export the model with --variant fp16 for CUDA.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NEWSCLF_EXECUTION_PROVIDER=cuda
COPY --from=deps-gpu /opt/venv /opt/venv
COPY ${MODEL_DIR} /model
COPY --from=app /app /app

# The default target is last: a plain `docker build .` gives the CPU image.
FROM runtime AS cpu
ARG MODEL_DIR=artifacts/model
ENV NEWSCLF_EXECUTION_PROVIDER=cpu
COPY --from=deps-cpu /opt/venv /opt/venv
COPY ${MODEL_DIR} /model
COPY --from=app /app /app
