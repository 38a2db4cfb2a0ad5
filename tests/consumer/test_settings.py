import pytest
from pydantic import ValidationError

from consumer.cli import main
from consumer.settings import Settings


def test_defaults_and_kafka_alias(monkeypatch):
    monkeypatch.delenv("NEWSCLF_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092, broker-b:9092")
    s = Settings()
    assert s.input_topic == "news.articles"
    assert s.output_topic == "news.classified"
    assert s.dlq_topic == "news.dlq"
    assert s.delivery == "at-least-once"
    assert s.kafka_common()["bootstrap_servers"] == ["broker-a:9092", "broker-b:9092"]


def test_prefixed_variable_wins(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "other:1")
    monkeypatch.setenv("NEWSCLF_BOOTSTRAP_SERVERS", "mine:2")
    assert Settings().bootstrap_servers == "mine:2"


def test_secrets_never_show(monkeypatch):
    monkeypatch.setenv("NEWSCLF_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSCLF_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("NEWSCLF_SASL_USERNAME", "svc")
    monkeypatch.setenv("NEWSCLF_SASL_PASSWORD", "hunter2")
    s = Settings()
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert s.kafka_common()["sasl_plain_password"] == "hunter2"


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("NEWSCLF_DELIVERY", "twice"),
        ("NEWSCLF_BATCH_MAX_SIZE", "0"),
        ("NEWSCLF_BATCH_MAX_RECORDS", "0"),
        ("NEWSCLF_MAX_IN_FLIGHT_BATCHES", "0"),
        ("NEWSCLF_OUTPUT_TOPIC", "news.articles"),
    ],
)
def test_bad_settings_rejected(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_cli_bad_setting_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("NEWSCLF_BATCH_MAX_SIZE", "lots")
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid settings") and "BATCH_MAX_SIZE" in err
    assert "\n" not in err and "Traceback" not in err


def test_cli_missing_model_dir_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NEWSCLF_MODEL_DIR", str(tmp_path / "nope"))
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "does not exist" in err and "\n" not in err


def test_deprecated_batch_names_still_work_with_a_warning(monkeypatch):
    monkeypatch.setenv("NEWSCLF_BATCH_MAX_SIZE", "16")
    monkeypatch.setenv("NEWSCLF_BATCH_MAX_TOKENS", "4096")
    s = Settings()
    assert (s.batch_max_records, s.infer_max_rows, s.infer_max_tokens) == (16, 16, 4096)
    assert len(s.deprecations()) == 2 and "NEWSCLF_BATCH_MAX_RECORDS" in s.deprecations()[0]
    monkeypatch.setenv("NEWSCLF_BATCH_MAX_RECORDS", "8")  # the new name wins
    assert Settings().batch_max_records == 8


def test_contradictory_sizes_are_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("NEWSCLF_PRODUCER_MAX_REQUEST_SIZE", "65536")
    monkeypatch.setenv("NEWSCLF_DLQ_MAX_VALUE_BYTES", "262144")
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "dlq_max_value_bytes" in err and "at most" in err
    monkeypatch.setenv("NEWSCLF_DLQ_MAX_VALUE_BYTES", "16384")
    Settings()  # fits
    monkeypatch.setenv("NEWSCLF_DELIVERY_TIMEOUT_S", "5")
    with pytest.raises(ValidationError, match="delivery_timeout_s"):
        Settings()


def test_the_transactional_id_is_stable_per_member(monkeypatch):
    monkeypatch.setenv("NEWSCLF_CLIENT_ID", "news-classifier-0")
    s = Settings(delivery="exactly-once")
    assert s.effective_transactional_id() == "news-classifier-news-classifier-0"
    assert (
        s.effective_transactional_id()
        == Settings(delivery="exactly-once").effective_transactional_id()
    )
    assert (
        Settings(group_instance_id="pod-3").effective_transactional_id() == "news-classifier-pod-3"
    )
    w = s.for_worker(2)
    assert w.client_id == "news-classifier-0-w2" and w.workers == 1
    assert w.effective_transactional_id().endswith("-w2")


def test_a_pinned_model_digest_must_be_hex(monkeypatch):
    monkeypatch.setenv("NEWSCLF_MODEL_SHA256", "not-a-digest")
    with pytest.raises(ValidationError, match="64 hexadecimal"):
        Settings()
