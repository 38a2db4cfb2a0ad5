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

.PHONY: help install demo test test-unit test-kafka lint train export serve produce kafka-start kafka-stop bench clean

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

lint: install ## ruff + mypy
	$(PY) -m ruff check newsclf consumer training export devkit tests benchmarks
	$(PY) -m ruff format --check newsclf consumer training export devkit tests benchmarks
	$(PY) -m mypy newsclf consumer training export devkit

train: install ## fine-tune the default model on the default corpus into $(CHECKPOINT)
	$(PY) -m training --output $(CHECKPOINT)

export: install ## export $(CHECKPOINT) to ONNX ($(VARIANT)) into $(MODEL_DIR)
	$(PY) -m export $(CHECKPOINT) $(MODEL_DIR) --variant $(VARIANT)

serve: install ## run the consumer against $$KAFKA_BOOTSTRAP_SERVERS with $(MODEL_DIR)
	NEWSCLF_MODEL_DIR=$(MODEL_DIR) $(PY) -m consumer

produce: install ## stream the default corpus into the input topic
	$(PY) -m consumer.produce

kafka-start: ## start Apache Kafka (KRaft, fetched from Maven Central) on 127.0.0.1:$(KAFKA_PORT)
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh start

kafka-stop: ## stop it
	KAFKA_PORT=$(KAFKA_PORT) bash scripts/kafka.sh stop

bench: install ## benchmarks: batching, ONNX variants, end-to-end throughput (prints ratios)
	$(PY) -m benchmarks.run

clean: ## remove build outputs, artifacts and the local Kafka data
	rm -rf $(ARTIFACTS) .cache/kafka/data .pytest_cache .mypy_cache .ruff_cache
