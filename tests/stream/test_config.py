from pathlib import Path

import pytest

from stream.config import Settings, SettingsError
from stream.runtime.app import _broker_credentials


def test_sasl_settings_reach_both_clients(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = Settings.from_env(
        {
            "INTENT_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "INTENT_SASL_MECHANISM": "SCRAM-SHA-512",
            "INTENT_SASL_USERNAME": "svc",
            "INTENT_SASL_PASSWORD_FILE": str(secret),
        }
    )
    opts = s.kafka_security()
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512" and opts["sasl_plain_password"] == "s3cret"
    creds = _broker_credentials(s)
    assert creds.username == "svc" and "s3cret" not in repr(creds) and "s3cret" not in repr(s)


def test_ssl_and_plaintext() -> None:
    assert _broker_credentials(Settings.from_env({})) is None
    s = Settings.from_env({"INTENT_SECURITY_PROTOCOL": "SSL"})
    assert s.kafka_security()["ssl_context"] is not None and _broker_credentials(s) is not None


@pytest.mark.parametrize(
    "env",
    [
        {"INTENT_BATCH_SIZE": "0"},
        {"INTENT_METRICS_PORT": "70000"},
        {"INTENT_THRESHOLD": "1.5"},
        {"INTENT_THRESHOLD": "-1"},
        {"INTENT_HORIZON_MIN": "0"},
        {"INTENT_COOLDOWN_S": "soon"},
        {"INTENT_ARCHIVE_ROLL_EVENTS": "0"},
        {"INTENT_ARCHIVE_ROLL_S": "0"},
        {"INTENT_ARCHIVE_UTC_OFFSET_H": "20"},
        {"INTENT_ARCHIVE_METRICS_PORT": "70000"},
    ],
)
def test_bad_values_are_refused(env: dict) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)
