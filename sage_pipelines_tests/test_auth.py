"""Users, roles and tokens: a token is shown once and only its salted hash is stored; every kind
of bad token is the same refusal; the permission table says who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from sage_pipelines.cli import main
from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.services.auth import (PERMISSIONS, AuthenticationError, Forbidden, Principal, add_user, authenticate,
                                          authorize, create_token, revoke_token)
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import Token, User
from sage_pipelines_tests.api_support import api_home, audit_rows  # noqa: F401


def test_a_token_is_stored_only_as_a_salted_hash(api_home):
    with session_scope(api_home) as session:
        token = create_token(session, add_user(session, "ana", "operator"))
        other = create_token(session, "ana")
    secret = token.split("_", 2)[2]
    stored = (api_home.root / "sage.db").read_bytes()
    assert secret.encode() not in stored and token.encode() not in stored
    with session_scope(api_home) as session:
        rows = session.scalars(select(Token)).all()
        assert len({r.sal for r in rows}) == 2 and len(rows[0].sal) == 16  # a salt of its own each
        assert authenticate(session, token) == Principal("ana", "operator", rows[0].id)
        assert authenticate(session, other).token_id == rows[1].id


@pytest.mark.parametrize("bad", [None, "", "sage_1_", "Bearer x", "sage_1_" + "A" * 43, "sage_99_" + "A" * 43,
                                 "sage_abc_" + "A" * 43, "x" * 5000])
def test_missing_malformed_or_wrong_tokens_are_one_refusal(api_home, bad):
    with session_scope(api_home) as session:
        create_token(session, add_user(session, "ana", "admin"))
        with pytest.raises(AuthenticationError) as exc:
            authenticate(session, bad)
    assert str(exc.value) == str(AuthenticationError())


def test_expired_revoked_and_disabled_tokens_are_refused_the_same_way(api_home):
    with session_scope(api_home) as session:
        user = add_user(session, "ana", "admin")
        expired = create_token(session, user, dt.timedelta(minutes=5))
        revoked = create_token(session, user)
        session.scalars(select(Token)).first().expira_en = dt.datetime(2000, 1, 1)
        revoke_token(session, 2)
        for token in (expired, revoked):
            with pytest.raises(AuthenticationError):
                authenticate(session, token)
        live = create_token(session, user)
        assert authenticate(session, live).user == "ana"
        session.scalar(select(User)).activo = False
        with pytest.raises(AuthenticationError):
            authenticate(session, live)


def test_the_permission_table_gives_each_role_what_the_issue_says():
    allowed = {role: {name for name, p in PERMISSIONS.items() if role in p.roles}
               for role in ("admin", "operator", "viewer")}
    assert allowed["admin"] == set(PERMISSIONS)
    assert allowed["operator"] == {"read", "casillas.write", "materializations.write", "uploads.write", "runs.write"}
    assert allowed["viewer"] == {"read"}


def test_a_role_without_the_permission_is_forbidden_naming_what_it_may_not_do():
    with pytest.raises(Forbidden, match=r"user 'vic' \(viewer\) may not add, change, rotate the key of, or remove secrets"):
        authorize(Principal("vic", "viewer"), "secrets.write")
    assert authorize(Principal("ana", "operator"), "uploads.write").user == "ana"


def test_users_have_a_known_role_and_a_plain_name(api_home):
    with session_scope(api_home) as session:
        with pytest.raises(ConfigError, match="role 'root' is not one of admin, operator, viewer"):
            add_user(session, "ana", "root")
        with pytest.raises(ConfigError, match="user name 'cli:ana'"):
            add_user(session, "cli:ana", "admin")  # `cli:` names are the CLI's actors
        add_user(session, "ana", "viewer")
        with pytest.raises(ConflictError, match="already exists"):
            add_user(session, "ana", "admin")
        assert add_user(session, "ana", "admin", replace=True).rol == "admin"


def test_cli_creates_users_and_prints_a_token_once_that_authenticates(api_home, capsys):
    assert main(["users", "add", "ana", "--role", "operator"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "ana", "--expires", "12h"]) == 0
    token = capsys.readouterr().out.strip()  # the token alone, for $(sage tokens create ...)
    assert token.startswith("sage_1_")
    with session_scope(api_home) as session:
        assert authenticate(session, token).role == "operator"
        expires = session.get(Token, 1).expira_en
    assert dt.timedelta(hours=11, minutes=59) < expires - dt.datetime.utcnow() <= dt.timedelta(hours=12)
    assert main(["tokens", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ana" in listed and "active" in listed and token.split("_", 2)[2] not in listed
    assert main(["tokens", "revoke", "1"]) == 0
    assert main(["tokens", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    with session_scope(api_home) as session, pytest.raises(AuthenticationError):
        authenticate(session, token)


@pytest.mark.parametrize("argv, message", [
    (["users", "add", "ana", "--role", "operator"], "user 'ana' already exists"),
    (["tokens", "create", "nadie"], "unknown user 'nadie'"),
    (["tokens", "create", "ana", "--expires", "soon"], "--expires: 'soon' is not a duration"),
    (["tokens", "revoke", "7"], "unknown token 7"),
    (["audit", "--since", "ayer"], "--since: 'ayer' is neither a date/time"),
])
def test_cli_mistakes_are_one_line(api_home, capsys, argv, message):
    with session_scope(api_home) as session:
        add_user(session, "ana", "viewer")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("sage: error: ") and message in err and err.count("\n") == 1


def test_cli_audit_filters_by_object_actor_and_time(api_home, capsys):
    assert main(["users", "add", "ana", "--role", "viewer"]) == 0
    assert main(["users", "add", "bea", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["audit", "--object", "ana"]) == 0
    out = capsys.readouterr().out
    assert "user:ana" in out and "user:bea" not in out and '"role": "viewer"' in out
    assert main(["audit", "--object", "user:bea", "--since", "1h"]) == 0
    assert "user:bea" in capsys.readouterr().out
    assert main(["audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header only
    rows = audit_rows(api_home, accion="user.add")
    assert [(r.objeto, r.origen, r.actor.startswith("cli:")) for r in rows] == [
        ("user:ana", "cli", True), ("user:bea", "cli", True)]
