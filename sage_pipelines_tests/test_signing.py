"""The `sage-signed` serializer on its own: the key it derives, what it accepts, key rotation,
and that a server's Celery app uses it for every message (real workers: test_signed_messages)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid

import pytest
from cryptography.fernet import Fernet
from kombu import serialization
from kombu.exceptions import ContentDisallowed, DecodeError

from sage_pipelines.servers import signing
from sage_pipelines.servers.celery_app import server_app

BODY = ([], {"execute_step_args_packed": {"run_id": "r1", "step": "pg__c__t"}, "n": 1, "s": "Año \"x\"\n"},
        {"callbacks": None})


@pytest.fixture
def keys(monkeypatch) -> list[bytes]:
    """An installation whose key list (newest first) is in SAGE_SECRET_KEY."""
    new, old = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv("SAGE_SECRET_KEY", f"{new.decode()},{old.decode()}")
    return [new, old]


def loads(payload, content_type=signing.CONTENT_TYPE):
    """What a server's app does with a message body: accept only signed content."""
    return serialization.loads(payload, content_type, "utf-8", accept=[signing.CONTENT_TYPE])


def rfc5869(fernet_key: bytes) -> bytes:
    """HKDF-SHA256 written out from RFC 5869 (no salt: a zero-filled one), 32 bytes."""
    prk = hmac.new(b"\0" * 32, base64.urlsafe_b64decode(fernet_key), hashlib.sha256).digest()
    return hmac.new(prk, signing.HKDF_INFO + b"\x01", hashlib.sha256).digest()


def test_a_message_round_trips_through_kombu_as_signed_json(keys):
    content_type, encoding, payload = serialization.dumps(BODY, serializer=signing.SERIALIZER)
    assert (content_type, encoding) == (signing.CONTENT_TYPE, "utf-8")
    assert payload.startswith("sage1:")
    assert loads(payload) == [[], BODY[1], BODY[2]]


def test_the_hmac_key_is_hkdf_of_each_fernet_key_with_its_own_label(keys):
    assert signing.installation_keys() == [rfc5869(k) for k in keys]
    assert all(derived not in base64.urlsafe_b64decode(k) for derived, k in zip(signing.installation_keys(), keys))


def test_messages_are_signed_with_the_newest_key(keys):
    payload = signing.encode(BODY)
    assert signing.decode(payload, lambda: [signing.signing_key(keys[0])]) == [[], BODY[1], BODY[2]]
    with pytest.raises(signing.SignatureRefused):
        signing.decode(payload, lambda: [signing.signing_key(keys[1])])


def test_a_signature_by_any_key_of_the_list_verifies(keys):
    by_old = signing.encode(BODY, lambda: [signing.signing_key(keys[1])])
    assert loads(by_old)[1] == BODY[1]


def test_the_key_list_is_read_again_for_each_message(keys, monkeypatch):
    payload = signing.encode(BODY)
    monkeypatch.setenv("SAGE_SECRET_KEY", Fernet.generate_key().decode())  # keys replaced, no restart
    with pytest.raises(DecodeError) as refused:
        loads(payload)
    assert signing.refusal_in(refused.value) is not None


@pytest.mark.parametrize("forge", [
    pytest.param(lambda p: p.replace('"n": 1', '"n": 2'), id="altered body"),
    pytest.param(lambda p: p.split(":", 2)[2], id="signature stripped"),
    pytest.param(lambda p: "sage1:" + "A" * 43 + ":" + p.split(":", 2)[2], id="made-up signature"),
    pytest.param(lambda p: signing.sign(p.split(":", 2)[2].encode(), signing.signing_key(Fernet.generate_key())),
                 id="another installation's key"),
    pytest.param(lambda p: p[:40], id="truncated"),
])
def test_an_unsigned_altered_or_foreign_message_is_refused(keys, forge):
    payload = signing.encode(BODY)
    with pytest.raises(DecodeError) as refused:
        loads(forge(payload))
    assert "message refused" in str(signing.refusal_in(refused.value))


@pytest.mark.parametrize("content_type", ["application/json", "application/x-python-serialize",
                                          "application/x-yaml", "application/x-msgpack"])
def test_other_serializers_are_not_accepted(keys, content_type):
    with pytest.raises(ContentDisallowed):
        loads(b'{"a": 1}', content_type)


def test_kombu_types_survive_signing(keys):
    when, ident = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), uuid.uuid4()
    assert loads(signing.encode({"when": when, "id": ident})) == {"when": when, "id": ident}


def test_a_servers_app_signs_tasks_results_and_control_messages_and_accepts_only_signed_ones(keys):
    app = server_app("srv", "redis://127.0.0.1:6379/7")
    try:
        conf = app.conf
        assert (conf.task_serializer, conf.result_serializer) == (signing.SERIALIZER, signing.SERIALIZER)
        assert (conf.accept_content, conf.result_accept_content) == ([signing.CONTENT_TYPE], [signing.CONTENT_TYPE])
        assert conf.worker_consumer == "sage_pipelines.servers.signing:SignedConsumer"
        mailbox = app.control.mailbox
        assert (mailbox.serializer, set(mailbox.accept)) == (signing.SERIALIZER, {signing.CONTENT_TYPE})
        assert app.backend.content_type == signing.CONTENT_TYPE
    finally:
        app.close()
