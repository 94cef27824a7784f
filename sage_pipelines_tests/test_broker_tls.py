"""Brokers over TLS: the endpoint's TLS options become Celery's settings, and a remote server on a
TLS-only Redis (client certificates required, certificates from a throwaway CA) materializes
through a real worker; a client that does not trust the broker's certificate is refused."""

from __future__ import annotations

import re
import ssl
from urllib.parse import quote

import pytest
import redis

from sage_pipelines.errors import ConfigError
from sage_pipelines.orchestration.run import materialize_upload
from sage_pipelines.services.broker_tls import celery_tls, split_tls
from sage_pipelines.servers.celery_app import server_app
from sage_pipelines.services.servers import split_endpoint
from sage_pipelines_tests.broker_fixtures import RedisServer, make_tls_files
from sage_pipelines_tests.servers_fixtures import home, module_schema, schema, workers  # noqa: F401 (fixtures)
from sage_pipelines_tests.servers_fixtures import CASILLA, MB, add_remote, make_upload, materialize_on, server_name


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("certs"))


def endpoint(port: int, tls, **extra: str) -> str:
    options = {"ssl_ca_certs": str(tls.ca), "ssl_certfile": str(tls.client_cert),
               "ssl_keyfile": str(tls.client_key), **extra}
    query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in options.items() if v)
    return f"rediss://127.0.0.1:{port}/0?{query}"


# --- the options, on their own ------------------------------------------------------------------

def test_rediss_options_become_broker_and_result_backend_ssl_settings(tls):
    url, settings = celery_tls(endpoint(6380, tls) + "&visibility_timeout=60")
    assert url == "rediss://127.0.0.1:6380/0?visibility_timeout=60"
    expected = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(tls.ca),
                "ssl_certfile": str(tls.client_cert), "ssl_keyfile": str(tls.client_key)}
    assert settings == {"broker_use_ssl": expected, "redis_backend_use_ssl": expected}


def test_amqps_options_become_py_amqp_ssl_options_with_the_host_name_checked(tls):
    url, settings = celery_tls(f"amqps://sage@broker.example:5671//?ssl_ca_certs={tls.ca}&ssl_cert_reqs=optional")
    assert url == "amqps://sage@broker.example:5671//"
    assert settings == {"broker_use_ssl": {"cert_reqs": ssl.CERT_OPTIONAL, "ca_certs": str(tls.ca),
                                           "server_hostname": "broker.example"}}
    assert celery_tls("amqps://h//?ssl_cert_reqs=none")[1] == {"broker_use_ssl": {"cert_reqs": ssl.CERT_NONE}}


def test_a_tls_scheme_without_options_verifies_against_the_system_cas():
    assert celery_tls("rediss://h:6380/0")[1]["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert celery_tls("redis://h:6379/0") == ("redis://h:6379/0", {})


@pytest.mark.parametrize("url, message", [
    ("rediss://h/0?ssl_verify=1", "unknown TLS option 'ssl_verify'"),
    ("redis://h/0?ssl_ca_certs=/x", "TLS options need a TLS scheme"),
    ("rediss://h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs='maybe'"),
    ("rediss://h/0?ssl_certfile=/x", "needs both ssl_certfile and ssl_keyfile"),
])
def test_bad_tls_options_are_refused_when_the_server_is_added(url, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        split_endpoint(url)


def test_a_missing_certificate_file_is_named_when_connecting(tmp_path):
    with pytest.raises(ConfigError, match=f"ssl_ca_certs={tmp_path}/nope.pem: no such file"):
        celery_tls(f"rediss://h/0?ssl_ca_certs={tmp_path}/nope.pem")


def test_a_servers_app_carries_the_tls_settings(tls):
    app = server_app("srv", endpoint(6380, tls))
    try:
        assert app.conf.broker_url == "rediss://127.0.0.1:6380/0"
        assert app.conf.broker_use_ssl["ssl_ca_certs"] == str(tls.ca)
        assert app.conf.redis_backend_use_ssl["ssl_certfile"] == str(tls.client_cert)
    finally:
        app.close()


def test_tls_options_stay_in_the_stored_endpoint_and_the_password_does_not(tls):
    clean, password = split_endpoint(endpoint(6380, tls).replace("rediss://", "rediss://:s3cr%40t@"))
    assert password == "s3cr@t" and "s3cr" not in clean
    assert split_tls(clean)[1]["ssl_ca_certs"] == str(tls.ca)


# --- a real worker on a TLS-only Redis ------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory, tls):
    with RedisServer(tmp_path_factory.mktemp("redis_tls"), tls=tls) as server:
        yield server


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_remote_server_on_a_tls_only_redis_with_client_certificates_materializes(
        home, workers, schema, tmp_path, tls, tls_redis, figures):
    with pytest.raises(redis.ConnectionError):  # the port speaks TLS only
        redis.Redis(port=tls_redis.port, socket_timeout=2).ping()
    name = server_name("tls")
    add_remote(home, name, endpoint=endpoint(tls_redis.port, tls))
    outcome = materialize_on(home, workers(name), name, tmp_path / "u", "grande", 21, schema)
    # The step's message and result went through this broker (and no other).
    client = tls_redis.client()
    assert any(outcome.run_id.encode() in (client.get(k) or b"") for k in client.scan_iter(match="celery-task-meta-*"))
    pid = outcome.assets[0].metadata["sage/pid"]
    figures(f"TLS-only broker (client certificates required): the step ran on worker pid {pid}, rows exact")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_that_does_not_trust_the_brokers_certificate_fails_naming_the_server(
        home, tmp_path, tls, tls_redis):
    name = server_name("untrusted")
    add_remote(home, name, endpoint=endpoint(tls_redis.port, tls, ssl_ca_certs=""))  # system CAs only
    upload, _ = make_upload(home, tmp_path / "u", {"grande2": 2 * MB}, seed=22)
    outcome = materialize_upload(CASILLA, upload, home=home, tables=["grande2"], server=name)
    assert not outcome.success
    assert any(f"server {name}: broker rediss://127.0.0.1:{tls_redis.port}/0" in e and "CERTIFICATE_VERIFY_FAILED" in e
               for e in outcome.errors), outcome.errors
