# The serving image: the consumer, ONNX Runtime and an exported model dir. No torch.
#
#   make export                                   # writes artifacts/model
#   docker build -t news-classifier:0.1.0 .
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=broker:9092 -p 8000:8000 news-classifier:0.1.0
#
# GPU: docker build --build-arg EXTRAS=gpu --build-arg BASE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 ...
# (the base must provide python3.11+; export with --variant fp16 for the CUDA provider).
ARG BASE=python:3.11-slim
FROM ${BASE} AS runtime

ARG EXTRAS=cpu
ARG MODEL_DIR=artifacts/model

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSCLF_MODEL_DIR=/model \
    NEWSCLF_METRICS_HOST=0.0.0.0 \
    NEWSCLF_METRICS_PORT=8000 \
    NEWSCLF_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY newsclf ./newsclf
COPY consumer ./consumer
RUN pip install ".[${EXTRAS}]" && useradd --uid 10001 --no-create-home newsclf

COPY ${MODEL_DIR} /model

USER 10001
EXPOSE 8000
# /healthz: the loop is alive; /readyz: model loaded and partitions assigned.
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["python", "-m", "consumer"]
