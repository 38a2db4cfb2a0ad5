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
