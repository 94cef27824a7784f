"""Secrets are stored only as Fernet ciphertext, shown masked, audited, and re-keyed by rotation."""

from __future__ import annotations

import io
import os
import stat

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import inspect, select, text

from sage_pipelines.cli import main
from sage_pipelines.errors import ConfigError, SageError
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import engine_for, session_scope
from sage_pipelines.store.models import AuditLog, DbSecret
from sage_pipelines.crypto import decrypt_secret, encrypt_secret, load_keys
from sage_pipelines.services.secrets import add_secret, get_secret, secret_payload
from sage_pipelines_tests.secrets_support import add_secret_cli, canary, home  # noqa: F401 (fixture)


def add_with_stdin(monkeypatch, name: str, password: str, *extra: str) -> int:
    return add_secret_cli(monkeypatch, name, "postgresql", password, "--host", "127.0.0.1", "--port", "5432",
                          "--user", "alice", "--database", "test", *extra)


def store_plaintext(home: SageHome) -> str:
    """Every value of every table of the store, as text."""
    engine = engine_for(home.store_url)
    chunks = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def test_init_creates_the_secret_key_readable_only_by_its_owner(home):
    mode = stat.S_IMODE(home.secret_key_path.stat().st_mode)
    assert mode == 0o600
    Fernet(home.secret_key_path.read_bytes().strip())  # a valid key


def test_init_keeps_an_existing_key(home):
    before = home.secret_key_path.read_bytes()
    assert main(["init"]) == 0
    assert home.secret_key_path.read_bytes() == before


def test_key_file_readable_by_others_is_refused(home, monkeypatch, capsys):
    os.chmod(home.secret_key_path, 0o644)
    assert add_with_stdin(monkeypatch, "pg", canary()) == 1
    err = capsys.readouterr().err
    assert "readable by group or others" in err and "chmod 600" in err
    with pytest.raises(SageError, match="0644"):
        load_keys(home)


def test_canary_password_is_stored_only_as_ciphertext_that_decrypts_back(home, monkeypatch):
    password = canary()
    assert add_with_stdin(monkeypatch, "pg", password) == 0
    with session_scope(home) as session:
        secret = get_secret(session, "pg")
        assert password.encode() not in secret.credenciales
        assert secret_payload(session, secret.id, home=home) == {"password": password}
        assert (secret.tipo, secret.servidor, secret.puerto, secret.usuario, secret.basedatos) == (
            "postgresql", "127.0.0.1", 5432, "alice", "test")
    assert password not in store_plaintext(home)
    for path in home.root.rglob("*"):  # sage.db and its WAL / journal files
        if path.is_file() and path != home.secret_key_path:
            assert password.encode() not in path.read_bytes(), path


def test_show_masks_the_password_and_list_omits_it(home, monkeypatch, capsys):
    password = canary()
    assert add_with_stdin(monkeypatch, "pg", password, "--option", "sslmode=require") == 0
    capsys.readouterr()
    assert main(["secrets", "show", "pg"]) == 0
    shown = capsys.readouterr().out
    assert "password: ********" in shown
    assert "host: 127.0.0.1" in shown and "user: alice" in shown and "sslmode=require" in shown
    assert main(["secrets", "list"]) == 0
    listed = capsys.readouterr().out
    assert "pg" in listed and "postgresql" in listed
    assert password not in shown + listed


def test_every_secret_action_is_audited_without_the_secret(home, monkeypatch, capsys):
    password = canary()
    assert add_with_stdin(monkeypatch, "pg", password) == 0
    assert main(["secrets", "show", "pg"]) == 0
    assert main(["secrets", "list"]) == 0
    assert main(["secrets", "rotate-key"]) == 0
    assert main(["secrets", "remove", "pg"]) == 0
    with session_scope(home) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.accion.like("secret.%")).order_by(AuditLog.id)).all()
        actions = [(r.accion, r.objeto) for r in rows]
        details = repr([(r.detalle, r.actor) for r in rows])
    assert actions == [("secret.add", "secret:pg"), ("secret.show", "secret:pg"), ("secret.list", "secrets"),
                       ("secret.rotate_key", "secret.key"), ("secret.remove", "secret:pg")]
    assert password not in details


def test_a_password_flag_does_not_exist_and_never_echoes_its_value(home, capsys):
    password = canary()
    with pytest.raises(SystemExit) as exc:
        main(["secrets", "add", "pg", "--type", "postgresql", "--password", password])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "--password-stdin" in captured.err
    assert password not in captured.out + captured.err
    with pytest.raises(SystemExit):
        main(["secrets", "add", "--help"])
    assert "--password " not in capsys.readouterr().out
    with session_scope(home) as session:
        assert session.scalars(select(DbSecret).where(DbSecret.nombre == "pg")).all() == []


def test_password_can_come_from_a_named_environment_variable(home, monkeypatch):
    password = canary()
    monkeypatch.setenv("PG_PASSWORD_FOR_TEST", password)
    assert main(["secrets", "add", "pg", "--type", "mysql", "--password-env", "PG_PASSWORD_FOR_TEST"]) == 0
    with session_scope(home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=home) == {"password": password}


def test_missing_password_environment_variable_is_a_one_line_error(home, capsys):
    assert main(["secrets", "add", "pg", "--type", "mysql", "--password-env", "NOT_SET_ANYWHERE_X"]) == 1
    assert "NOT_SET_ANYWHERE_X" in capsys.readouterr().err


def test_s3_secret_encrypts_both_access_keys(home, monkeypatch):
    secret_key = canary()
    monkeypatch.setattr("sys.stdin", io.StringIO(secret_key))
    assert main(["secrets", "add", "s3cred", "--type", "s3", "--user", "AKIAEXAMPLEKEYID",
                 "--password-stdin", "--option", "region=us-east-1"]) == 0
    with session_scope(home) as session:
        secret = get_secret(session, "s3cred")
        assert secret.usuario is None and secret.opciones == {"region": "us-east-1"}
        assert secret_payload(session, secret.id, home=home) == {
            "access_key_id": "AKIAEXAMPLEKEYID", "secret_access_key": secret_key}
    assert "AKIAEXAMPLEKEYID" not in store_plaintext(home) and secret_key not in store_plaintext(home)


def test_an_option_that_looks_like_a_password_is_refused(home):
    with session_scope(home) as session, pytest.raises(ConfigError, match="sslpassword"):
        add_secret(session, "pg", "postgresql", options={"sslpassword": "x"}, home=home)


def test_adding_an_existing_name_needs_replace_which_keeps_its_id(home, monkeypatch, capsys):
    assert add_with_stdin(monkeypatch, "pg", "first") == 0
    assert add_with_stdin(monkeypatch, "pg", "second") == 1
    assert "already exists" in capsys.readouterr().err
    with session_scope(home) as session:
        first_id = get_secret(session, "pg").id
    assert add_with_stdin(monkeypatch, "pg", "second", "--replace") == 0
    with session_scope(home) as session:
        secret = get_secret(session, "pg")
        assert secret.id == first_id
        assert secret_payload(session, secret.id, home=home) == {"password": "second"}


def test_ciphertext_from_another_key_is_refused_with_a_clear_error(home):
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"password": "x"}')
    with pytest.raises(SageError, match="cannot be decrypted"):
        decrypt_secret(home, foreign)


def test_rotate_key_reencrypts_every_secret_so_the_new_key_alone_reads_them(home, monkeypatch):
    passwords = {f"s{i}": canary() for i in range(3)}
    for name, password in passwords.items():
        assert add_with_stdin(monkeypatch, name, password) == 0
    old_key = home.secret_key_path.read_bytes().strip()
    with session_scope(home) as session:
        before = {s.nombre: s.credenciales for s in session.scalars(select(DbSecret))}
    assert set(before) == set(passwords) | {"warehouse"}  # the built-in DuckDB secret has no password

    assert main(["secrets", "rotate-key"]) == 0

    keys = home.secret_key_path.read_bytes().split()
    assert len(keys) == 2 and keys[1] == old_key and keys[0] != old_key  # new key first, old kept
    assert stat.S_IMODE(home.secret_key_path.stat().st_mode) == 0o600
    home.secret_key_path.write_bytes(keys[0] + b"\n")  # the operator drops the old key
    with session_scope(home) as session:
        for secret in session.scalars(select(DbSecret).where(DbSecret.nombre.in_(passwords))):
            assert secret.credenciales != before[secret.nombre]
            with pytest.raises(InvalidToken):
                Fernet(old_key).decrypt(secret.credenciales)
            assert secret_payload(session, secret.id, home=home) == {"password": passwords[secret.nombre]}


def test_rotate_key_drop_old_leaves_only_the_new_key(home, monkeypatch):
    password = canary()
    assert add_with_stdin(monkeypatch, "pg", password) == 0
    old_key = home.secret_key_path.read_bytes().strip()
    assert main(["secrets", "rotate-key", "--drop-old"]) == 0
    keys = home.secret_key_path.read_bytes().split()
    assert len(keys) == 1 and keys[0] != old_key
    with session_scope(home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=home) == {"password": password}


def test_rotation_with_keys_from_the_environment_moves_secrets_to_the_first_key(home, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SAGE_SECRET_KEY", old)
    password = canary()
    assert add_with_stdin(monkeypatch, "pg", password) == 0
    monkeypatch.setenv("SAGE_SECRET_KEY", f"{new},{old}")
    assert main(["secrets", "rotate-key"]) == 0
    monkeypatch.setenv("SAGE_SECRET_KEY", new)
    with session_scope(home) as session:
        assert secret_payload(session, get_secret(session, "pg").id, home=home) == {"password": password}


def test_encrypt_and_decrypt_round_trip_a_payload(home):
    payload = {"password": "ñandú \"quoted\" ,;|\n", "extra": "1"}
    token = encrypt_secret(home, payload)
    assert b"quoted" not in token
    assert decrypt_secret(home, token) == payload
