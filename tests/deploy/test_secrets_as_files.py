"""The kafka-sasl component mounts the Kafka credentials as files (one per setting, named like its
variable) and sets NEWSCLF_SECRETS_DIR to their folder: the service must read them from there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sasl_credentials_are_read_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "NEWSCLF_SASL_USERNAME").write_text("news-classifier")
    (tmp_path / "NEWSCLF_SASL_PASSWORD").write_text("s3cret-from-a-file")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSCLF_SASL")}
    env.update(
        NEWSCLF_SECRETS_DIR=str(tmp_path),
        NEWSCLF_SECURITY_PROTOCOL="SASL_SSL",
        NEWSCLF_SASL_MECHANISM="SCRAM-SHA-512",
    )
    code = (
        "from consumer.settings import Settings; s = Settings();"
        "print(s.sasl_username, s.sasl_password.get_secret_value() if s.sasl_password else None)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["news-classifier", "s3cret-from-a-file"]
