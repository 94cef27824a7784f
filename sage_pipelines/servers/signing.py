"""Signed Celery messages between a Dagster run and the workers of a remote server.

Anyone who can write to a server's broker could otherwise make its workers run any step of any
job, or hand a run forged step results. So every message the Celery plumbing sends - tasks,
results, and the control messages of pings and `inspect` - is serialized by `sage-signed`: JSON
preceded by an HMAC-SHA256 over the JSON, and it is the only content type a server's app
accepts for tasks and results (`accept_content`, `result_accept_content`).

The HMAC key is derived (HKDF-SHA256, its own `info` label, so it is never the key that encrypts
secrets) from each key of the installation's Fernet key list (`SAGE_SECRET_KEY` or
`$SAGE_HOME/secret.key`), which a worker already needs to decrypt its broker password. Rotation:
messages are signed with the newest key (the list's first) and a signature made with any key
of the list verifies, so machines can take a new key one at a time. The list is re-read for
every message, so a rotated key file is used without restarting a worker.

What the signature covers: the message body (the task's arguments - run id, step, job origin,
instance reference - or a result). Not the headers (task name, id, routing): a message signed
for one task cannot be turned into another task's arguments, but a copied signed message can
be sent again, which re-runs the same step of the same upload (the writes are idempotent).

kombu trusts two content types whatever `accept_content` says (`application/data`,
`application/text`: raw bytes handed to the task), so `SignedConsumer`, the worker's consumer,
refuses every task message that is not `sage-signed` before anything else looks at it, and
records the refusal as that task id's failure, so a run waiting on it fails at once. Signing
keeps whoever can write to the broker from running or faking steps; it cannot keep them from
dropping or delaying messages (or failing a step by sending a bad message under its id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any, Callable

from celery import signals
from celery.utils.objects import Bunch
from celery.worker.consumer import Consumer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from kombu import serialization
from kombu.utils.json import dumps as json_dumps
from kombu.utils.json import loads as json_loads

from sage_pipelines.crypto import load_keys
from sage_pipelines.errors import SageError
from sage_pipelines.settings import SageHome

SERIALIZER = "sage-signed"
CONTENT_TYPE = "application/x-sage-signed+json"
VERSION = "sage1"
HKDF_INFO = b"sage-pipelines: celery message signing v1"
_SIG_LENGTH = 43  # 32 bytes of HMAC-SHA256, url-safe base64 without padding

logger = logging.getLogger(__name__)


class SignatureRefused(SageError):
    """A message without a valid signature by a key of this installation's key list."""


def signing_key(fernet_key: bytes) -> bytes:
    """The HMAC key derived from one Fernet key of the installation's key list."""
    material = base64.urlsafe_b64decode(fernet_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material)


def installation_keys() -> list[bytes]:
    """The HMAC keys of this installation, newest first (read again on every call)."""
    return [signing_key(k) for k in load_keys(SageHome.from_env())]


def _mac(key: bytes, body: bytes) -> str:
    digest = hmac.new(key, CONTENT_TYPE.encode() + b"\n" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(body: bytes, key: bytes) -> str:
    """`sage1:<signature>:<body>` (the body is JSON, kept readable)."""
    return f"{VERSION}:{_mac(key, body)}:{body.decode('utf-8')}"


def verify(payload: str | bytes, keys: list[bytes]) -> bytes:
    """The body inside `payload` if one of `keys` signed it; SignatureRefused otherwise."""
    data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    head, sep, rest = data.partition(b":")
    signature, body = rest[:_SIG_LENGTH], rest[_SIG_LENGTH + 1:]
    if head != VERSION.encode() or not sep or rest[_SIG_LENGTH:_SIG_LENGTH + 1] != b":":
        raise SignatureRefused("message refused: it is not signed (expected a sage-signed message)")
    if not any(hmac.compare_digest(_mac(key, body).encode("ascii"), signature) for key in keys):
        raise SignatureRefused("message refused: its signature does not verify with any key of this "
                               "installation's key list (forged or altered, or SAGE_SECRET_KEY / "
                               "secret.key differ between the machines)")
    return body


def encode(obj: Any, keys: Callable[[], list[bytes]] = installation_keys) -> str:
    return sign(json_dumps(obj).encode("utf-8"), keys()[0])


def decode(payload: str | bytes, keys: Callable[[], list[bytes]] = installation_keys) -> Any:
    return json_loads(verify(payload, keys()))


def register() -> None:
    """Make `sage-signed` known to kombu in this process (idempotent)."""
    serialization.register(SERIALIZER, encode, decode, content_type=CONTENT_TYPE, content_encoding="utf-8")


def celery_settings() -> dict[str, Any]:
    """The Celery settings that make an app sign everything and accept only signed messages."""
    return {"task_serializer": SERIALIZER, "result_serializer": SERIALIZER,
            "accept_content": [CONTENT_TYPE], "result_accept_content": [CONTENT_TYPE],
            "worker_consumer": f"{__name__}:SignedConsumer"}


def refusal_in(exc: BaseException | None) -> SignatureRefused | None:
    """The SignatureRefused inside `exc` (kombu wraps a decoder's error in a DecodeError)."""
    for _ in range(10):
        if exc is None or isinstance(exc, SignatureRefused):
            return exc
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or inner or exc.__context__
    return None


class SignedConsumer(Consumer):
    """The worker's consumer: a task message reaches the worker's strategies only once its
    content type is `sage-signed` and its signature verifies; any other is logged on one line
    and rejected (dropped, never run, never requeued)."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handler = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            try:
                if message.content_type != CONTENT_TYPE:
                    raise SignatureRefused(f"message refused: content type {message.content_type!r} is not "
                                           f"signed ({CONTENT_TYPE})")
                if not message.body:  # kombu hands an empty body over undecoded
                    raise SignatureRefused("message refused: it is empty")
                message.decode()  # verifies; the strategy reuses the decoded body
            except Exception as exc:
                return self._refuse(message, exc)
            return handler(message)

        return on_task_received

    def _refuse(self, message: Any, exc: BaseException) -> None:
        headers = message.headers if isinstance(message.headers, dict) else {}
        task_id, name = headers.get("id"), headers.get("task")
        refusal = refusal_in(exc) or SignatureRefused(f"message refused: {type(exc).__name__}: {exc}")
        logger.error("refused task %s (%s): %s", task_id, name, refusal)
        message.reject_log_error(logger, self.connection_errors)
        signals.task_rejected.send(sender=self, message=message, exc=refusal)
        if isinstance(task_id, str) and len(task_id) <= 64:
            self._report(message, task_id, name, headers, refusal)

    def _report(self, message: Any, task_id: str, name: Any, headers: dict, refusal: SignatureRefused) -> None:
        """Record the refusal as the task's (signed) failure, as Celery does for an unknown task,
        so a run waiting on it fails at once with the reason instead of waiting forever."""
        request = Bunch(name=name, chord=None, root_id=headers.get("root_id"), errbacks=None, task=name,
                        correlation_id=message.properties.get("correlation_id"),
                        reply_to=message.properties.get("reply_to"), delivery_info=message.delivery_info)
        try:
            self.app.backend.mark_as_failure(task_id, refusal, request=request)
        except Exception as exc:  # the refusal stands even when it cannot be reported
            logger.warning("could not record the refusal of task %s: %s: %s", task_id, type(exc).__name__, exc)


register()
