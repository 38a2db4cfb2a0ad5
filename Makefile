# news-classifier — every command a newcomer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
EXTRAS ?= cpu,train,dev
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

ARTIFACTS ?= artifacts
CHECKPOINT ?= $(ARTIFACTS)/checkpoint
MODEL_DIR ?= $(ARTIFACTS)/model
VARIANT ?= int8
KAFKA_PORT ?= 19092

.PHONY: help install demo test test-unit test-kafka lint train export serve produce kafka-start kafka-stop bench review-check clean model-promote model-rollback gpu-bundle

help: ## list the commands
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## create .venv and install the project (cpu, train and dev extras)

demo: install ## the main job end to end: embedded broker, train, export, serve, stream, watch
	$(PY) -m devkit.demo

test: install ## the whole suite: unit + integration against Apache Kafka, then the Kafka tests against the embedded broker
	bash scripts/test.sh

lint: install ## ruff + mypy, then the deployment checks (make lint-deploy)
	$(PY) -m ruff check newsclf consumer training export devkit tests benchmarks
	$(PY) -m ruff format --check newsclf consumer training export devkit tests benchmarks
	$(PY) -m mypy newsclf consumer training export devkit
	$(MAKE) --no-print-directory lint-deploy

train: install ## fine-tune the default model on the default corpus into $(CHECKPOINT)
	$(PY) -m training --output $(CHECKPOINT)

export: install ## export $(CHECKPOINT) to ONNX ($(VARIANT)) into $(MODEL_DIR)
	$(PY) -m export $(CHECKPOINT) $(MODEL_DIR) --variant $(VARIANT)

serve: install ## run the consumer against $$KAFKA_BOOTSTRAP_SERVERS with $(MODEL_DIR)
	NEWSCLF_MODEL_DIR=$(MODEL_DIR) $(PY) -m consumer

produce: install ## stream the default corpus into the input topic
	$(PY) -m consumer.produce

model-promote: ## serve MODEL=<exported dir> through the artifacts/model symlink (a running service hot-reloads it)
	bash scripts/model-link.sh promote "$(MODEL)" $(MODEL_DIR)

model-rollback: ## serve the model artifacts/model pointed at before the last promote
	bash scripts/model-link.sh rollback $(MODEL_DIR)

gpu-bundle: install ## the wheels a lent GPU machine lacks, cut into parts of one device call each, in .gpu/ (scripts/gpu/README.md)
	bash scripts/gpu/bundle.sh .gpu

kafka-start: ## start Apache Kafka (KRaft, fetched from Maven Central) on 127.0.0.1:$(KAFKA_PORT)
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh start

kafka-stop: ## stop it
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh stop

bench: install ## benchmarks: serving overhead and memory, text preparation, batching, ONNX variants, speed by window, end to end (ratios side by side)
	$(PY) -m benchmarks.run

review-check: install ## stream other-language articles and Reuters business news through $(MODEL_DIR): review share and business labels
	$(PY) -m devkit.review_check --model-dir $(MODEL_DIR)

clean: ## remove build outputs, artifacts and the local Kafka data
	rm -rf $(ARTIFACTS) .cache/kafka/*/data .cache/chaos .pytest_cache .mypy_cache .ruff_cache

# ---- deployment: images (buildah, no Docker daemon), manifests, alerts (docs/deploy.md)
IMAGE_TARGET ?= cpu
REGISTRY ?= registry.example.com/news-classifier

.PHONY: deploy-tools image image-test image-lock image-push lint-deploy

deploy-tools: ## install the pinned deployment tools (Debian: buildah, podman, prometheus; PyPI; Go)
	bash scripts/image/tools.sh

image: ## build the serving image (IMAGE_TARGET=cpu|gpu, MODEL_DIR) with buildah on the Debian base
	TARGET=$(IMAGE_TARGET) MODEL_DIR=$(MODEL_DIR) bash scripts/image/build.sh

image-test: install ## build the image and classify real articles with it through a broker (read-only, non-root)
	bash scripts/image/tools.sh system
	bash scripts/image/image-test.sh

image-lock: ## regenerate requirements/serve-{cpu,gpu}.txt (hashed locks) from pyproject.toml
	bash scripts/image/tools.sh python
	bash scripts/image/lock.sh

image-push: ## push the image to $(REGISTRY) and pin the overlay to its digest and model
	podman push --digestfile .cache/image/digest localhost/news-classifier:$$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')-$(IMAGE_TARGET) $(REGISTRY):$(IMAGE_TARGET)
	bash scripts/image/pin.sh $(IMAGE_TARGET) $(REGISTRY)@$$(cat .cache/image/digest) $(MODEL_DIR)

lint-deploy: ## kubeconform -strict, checkov, hadolint, yamllint, promtool on k8s/ and the Dockerfile
	bash scripts/image/tools.sh python go
	bash scripts/image/lint.sh

# ---- fault drills and Kafka instances (docs/reliability.md)
CHAOS_KAFKA_PORT ?= 29092

.PHONY: chaos kafka-restart kafka-pause kafka-resume kafka-secure-start

chaos: install ## the long fault drills (kill -9, broker restart and stall, rebalance storm, slow model, exactly-once) on their own Apache Kafka; writes .cache/chaos/reliability.{json,md}
	NEWSCLF_CHAOS_KAFKA_PORT=$(CHAOS_KAFKA_PORT) $(PY) -m pytest -m chaos tests/faults/test_chaos.py -v -p no:cacheprovider

kafka-restart: ## restart Apache Kafka on 127.0.0.1:$(KAFKA_PORT), keeping its log (a broker restart)
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh restart

kafka-pause: ## SIGSTOP Apache Kafka on $(KAFKA_PORT) (a stall); kafka-resume continues it
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh pause

kafka-resume: ## SIGCONT Apache Kafka on $(KAFKA_PORT)
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh resume

kafka-secure-start: ## Apache Kafka with SASL_PLAINTEXT/SASL_SSL (SCRAM-SHA-512) and SSL listeners beside PLAINTEXT; `bash scripts/kafka.sh info` prints them
	KAFKA_SECURITY=1 KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh start
