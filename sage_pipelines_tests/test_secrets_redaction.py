"""Secrets are masked in messages, URLs and log records."""

from __future__ import annotations

import logging

from sage_pipelines.security import RedactingFilter, install_log_redaction, redact, redact_url, remember_secret


def test_redact_masks_each_secret_and_its_url_encoded_spelling():
    message = "login p@ss/w0rd failed (dsn password=p%40ss%2Fw0rd)"
    assert redact(message, "p@ss/w0rd") == "login *** failed (dsn password=***)"


def test_redact_ignores_empty_secrets_and_keeps_other_text():
    assert redact("nothing to hide", None, "") == "nothing to hide"


def test_redact_masks_passwords_of_urls_inside_text():
    assert redact("cannot reach postgresql+psycopg://bob:hunter2@db:5432/x now") == \
        "cannot reach postgresql+psycopg://bob:***@db:5432/x now"


def test_redact_url_replaces_only_the_password():
    assert redact_url("amqp://user:s3cr%40t@broker:5672/vhost?heartbeat=5") == \
        "amqp://user:***@broker:5672/vhost?heartbeat=5"
    assert redact_url("redis://broker:6379/0") == "redis://broker:6379/0"


def test_logging_filter_masks_remembered_secrets_in_any_record(caplog):
    remember_secret("Remembered-Secret-123")
    logger = logging.getLogger("sage_test_redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", "Remembered-Secret-123")
    assert "Remembered-Secret-123" not in caplog.text and "connecting with ***" in caplog.text


def test_install_log_redaction_is_idempotent():
    logger = logging.getLogger("sage_test_install")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        first = install_log_redaction(logger)
        assert install_log_redaction(logger) is first
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_a_decrypted_secret_is_masked_in_records_of_any_logger_without_setup(caplog):
    remember_secret("Decrypted-Secret-456")
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library.logger").warning("dsn=host=x password=%s", "Decrypted-Secret-456")
    assert "Decrypted-Secret-456" not in caplog.text and "password=***" in caplog.text
