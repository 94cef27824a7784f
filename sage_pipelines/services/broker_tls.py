"""TLS to a server's broker: options in the endpoint's query, turned into Celery settings.

    rediss://host:6380/0?ssl_ca_certs=/etc/sage/ca.pem&ssl_certfile=/etc/sage/client.pem&ssl_keyfile=/etc/sage/client.key
    amqps://sage@host:5671//?ssl_ca_certs=/etc/sage/ca.pem

The options are Celery's own names for Redis (`broker_use_ssl`), one spelling for both brokers:
`ssl_cert_reqs` (required - the default -, optional or none), `ssl_ca_certs` (the CA bundle that
signed the broker's certificate; default: the system's), `ssl_certfile` / `ssl_keyfile` (a
client certificate, for brokers that require one). They are file paths on the machine that
connects, not secrets, so they stay in the stored endpoint. They leave the URL here and become
`broker_use_ssl` (and, for Redis, `redis_backend_use_ssl`, since results travel on the same
server), in the shape each transport takes. The broker's host name (or IP) must match its
certificate unless `ssl_cert_reqs=none`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sage_pipelines.errors import ConfigError

TLS_SCHEMES = ("rediss", "amqps")
OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def split_tls(url: str) -> tuple[str, dict[str, str]]:
    """(the URL without its TLS options, the options). Refuses unknown or misplaced ones."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in query if k.startswith("ssl_")}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"broker endpoint: unknown TLS option {unknown[0]!r} (use {', '.join(OPTIONS)})")
    if options and parts.scheme not in TLS_SCHEMES:
        raise ConfigError(f"broker endpoint: TLS options need a TLS scheme ({' or '.join(s + '://' for s in TLS_SCHEMES)}), "
                          f"not {parts.scheme}://")
    reqs = options.get("ssl_cert_reqs", "required").lower()
    if reqs not in CERT_REQS:
        raise ConfigError(f"broker endpoint: ssl_cert_reqs={options['ssl_cert_reqs']!r}: use required, optional or none")
    if ("ssl_keyfile" in options) != ("ssl_certfile" in options):
        raise ConfigError("broker endpoint: a client certificate needs both ssl_certfile and ssl_keyfile")
    rest = urlencode([(k, v) for k, v in query if not k.startswith("ssl_")])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), options


def celery_tls(url: str) -> tuple[str, dict[str, Any]]:
    """(the broker URL for Celery, the Celery settings that carry its TLS options)."""
    clean, options = split_tls(url)
    scheme = urlsplit(clean).scheme
    if scheme not in TLS_SCHEMES:
        return clean, {}
    for name in FILES:
        if name in options and not Path(options[name]).is_file():
            raise ConfigError(f"broker endpoint: {name}={options[name]}: no such file on this machine")
    reqs = CERT_REQS[options.get("ssl_cert_reqs", "required").lower()]
    if scheme == "rediss":  # redis-py's SSLConnection keywords (kombu and Celery pass them on)
        use = {"ssl_cert_reqs": reqs, **{k: options[k] for k in FILES if k in options}}
        return clean, {"broker_use_ssl": use, "redis_backend_use_ssl": dict(use)}
    # py-amqp's ssl options; naming the host turns on the certificate's host name check
    use = {"cert_reqs": reqs, **{k.removeprefix("ssl_"): options[k] for k in FILES if k in options}}
    if reqs != ssl.CERT_NONE:
        use["server_hostname"] = urlsplit(clean).hostname
    return clean, {"broker_use_ssl": use}
