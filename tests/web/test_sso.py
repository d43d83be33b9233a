"""Single sign-on end to end against a real OpenID provider (oidc-provider-mock, 127.0.0.1).

The browser is the TestClient; the user's side at the provider (sign in, consent) is an
HTTP POST to the provider's authorization form. Gaung's own calls (discovery, token,
JWKS) go over the network to the provider, and the ID token is checked by Authlib.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from channels import oidc as provider
from kernel.audit import AuditLog
from kernel.throttle import LoginFailure
from roster import oidc, two_factor
from roster.models import Agency, Role, User
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from
from tests.web.oidc_mock import Provider, run_provider

# Authlib warns about its own modules (authlib.jose inside the mock, the httpx shim).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
warnings.filterwarnings("ignore", module="authlib")

CLIENT_ID = "gaung-web"
REALM = "/realms/bkn"


@pytest.fixture(autouse=True)
def _fresh_discovery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A confidential client, as Keycloak clients usually are (the mock refuses public ones).
    monkeypatch.setenv("GAUNG_OIDC__KOMINFO__CLIENT_SECRET", "s3cret-from-env")
    provider.clear_cache()  # a port, and so an issuer, may come back with another key
    yield
    provider.clear_cache()


@pytest.fixture
def idp() -> Iterator[Provider]:
    with run_provider() as running:
        yield running


@pytest.fixture
def keycloak() -> Iterator[Provider]:
    """Keycloak's issuer shape: the realm URL, and a second realm with the same key."""
    with run_provider(realms=(REALM, "/realms/other")) as running:
        yield running


def _agency(session: Session, issuer: str, **options: object) -> Agency:
    agency = make_agency(session, slug="kominfo", name="Kementerian Kominfo")
    oidc.configure(session, None, agency, issuer=issuer, client_id=CLIENT_ID, **options)  # type: ignore[arg-type]
    return agency


def _start(client: TestClient, slug: str = "kominfo", next: str = "") -> str:
    """Press "Masuk dengan SSO"; returns the provider's authorization URL."""
    path = f"/login/sso/{slug}" + (f"?next={next}" if next else "")
    response: httpx.Response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _sign_in(client: TestClient, idp: Provider, sub: str) -> httpx.Response:
    """The whole round trip; returns Gaung's answer to the provider's redirect."""
    back = idp.authorize(_start(client), sub)
    assert back.startswith("http://testserver/login/sso/callback?")
    response: httpx.Response = client.get(back, follow_redirects=False)
    return response


def _audit(session: Session, action: str) -> list[AuditLog]:
    statement = select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    return list(session.exec(statement).all())


def _signed_in(client: TestClient) -> bool:
    response: httpx.Response = client.get("/console", follow_redirects=False)
    return response.status_code == 200


def test_sign_in_through_the_provider_opens_the_console(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer)
    editor = make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    # The provider's letter case differs from the stored address: compared through email_key.
    idp.set_user("siti", {"email": "Siti@Kominfo.go.id", "email_verified": True, "name": "Siti"})

    page = client.get("/login")
    assert "Masuk dengan SSO" in page.text
    assert "/login/sso/kominfo" in page.text

    authorize = _start(client, next="/console/approvals")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(idp.issuer + "/oauth2/authorize?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://testserver/login/sso/callback"]
    assert "openid" in query["scope"][0].split()
    assert "email" in query["scope"][0].split()
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["nonce"][0]

    back = idp.authorize(authorize, "siti")
    response = client.get(back, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/approvals"
    console = client.get("/console")
    assert console.status_code == 200
    assert 'action="/logout"' in console.text

    # PKCE: the verifier sent to the token endpoint hashes to the challenge sent earlier;
    # the secret from the environment authenticated the client (client_secret_basic).
    [token_request] = idp.tokens()
    verifier = token_request.form()["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"][0]
    basic = base64.b64encode(f"{CLIENT_ID}:s3cret-from-env".encode()).decode()
    assert token_request.authorization == f"Basic {basic}"

    # The same kind of session as a password sign-in: a CSRF token, and sign-out ends it
    # everywhere (the user's session epoch).
    token = csrf_from(client, "/console")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert not _signed_in(client)
    session.expire_all()
    session.refresh(editor)
    assert editor.session_epoch == 1
    [entry] = _audit(session, "login.sso")
    assert entry.actor_id == editor.id
    assert entry.agency_id == agency.id


def test_a_wrong_state_is_refused_and_counted(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer)
    make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    idp.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
    back = idp.authorize(_start(client), "siti")
    parts = urlsplit(back)
    params = parse_qs(parts.query)
    forged = f"{parts.path}?code={params['code'][0]}&state=not-the-state"

    response = client.get(forged, follow_redirects=False)
    assert response.status_code == 400
    assert "kedaluwarsa atau sudah digunakan" in response.text
    assert not _signed_in(client)
    assert idp.tokens() == []  # the code was never redeemed
    [entry] = _audit(session, "login.sso.refused")
    assert "(state)" in entry.detail
    [failure] = session.exec(select(LoginFailure)).all()
    assert failure.kind == "address"
    assert failure.count == 1
    # The state was used up: the real redirect now finds nothing either.
    assert client.get(back, follow_redirects=False).status_code == 400


def test_a_replayed_code_is_refused(client: TestClient, session: Session, idp: Provider) -> None:
    agency = _agency(session, idp.issuer)
    make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    idp.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
    back = idp.authorize(_start(client), "siti")
    assert client.get(back, follow_redirects=False).status_code == 303
    client.post("/logout", data={"csrf_token": csrf_from(client, "/console")})

    # The same redirect again: its state was used and is gone from the session.
    replay = client.get(back, follow_redirects=False)
    assert replay.status_code == 400
    assert "sudah digunakan" in replay.text
    # The old code under a fresh state (an attacker holding a leaked code): the provider
    # refuses it at the token endpoint (used once; another PKCE verifier).
    fresh = parse_qs(urlsplit(_start(client)).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = client.get(f"/login/sso/callback?code={code}&state={fresh}", follow_redirects=False)
    assert response.status_code == 400
    assert "tidak dapat diverifikasi" in response.text
    assert not _signed_in(client)
    details = [entry.detail for entry in _audit(session, "login.sso.refused")]
    assert "(state)" in details[0]
    assert "rejected: token endpoint: HTTP 400" in details[1]


def test_an_unknown_email_is_refused_in_indonesian_and_audited(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer)
    other = make_agency(session)
    make_user(session, other, Role.ADMIN, email="budi@lain.go.id")
    idp.set_user("tamu", {"email": "tamu@kominfo.go.id", "email_verified": True})
    idp.set_user("budi", {"email": "budi@lain.go.id", "email_verified": True})

    response = _sign_in(client, idp, "tamu")
    assert response.status_code == 403
    assert "bukan akun staf aktif Kementerian Kominfo" in response.text
    assert "tamu@kominfo.go.id" in response.text
    assert not _signed_in(client)
    # Staff of another agency get the same answer: this agency's provider cannot sign them in.
    response = _sign_in(client, idp, "budi")
    assert response.status_code == 403
    assert "bukan akun staf aktif" in response.text
    assert not _signed_in(client)

    first, second = _audit(session, "login.sso.refused")
    assert "(unknown_email)" in first.detail
    assert "tamu@kominfo.go.id" in first.detail
    assert first.agency_id == agency.id
    assert "(not_staff)" in second.detail
    kinds = sorted(f.kind for f in session.exec(select(LoginFailure)).all())
    assert kinds == ["account", "account", "address"]  # two e-mails, one address
    assert session.exec(select(User).where(User.email == "tamu@kominfo.go.id")).first() is None


@pytest.mark.parametrize("verified", [False, "true", None])
def test_an_unverified_email_is_refused(
    client: TestClient, session: Session, idp: Provider, verified: object
) -> None:
    agency = _agency(session, idp.issuer)
    make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    claims: dict[str, object] = {"email": "siti@kominfo.go.id"}
    if verified is not None:
        claims["email_verified"] = verified
    idp.set_user("siti", claims)

    response = _sign_in(client, idp, "siti")
    assert response.status_code == 403
    assert "belum memverifikasi alamat surel" in response.text
    assert not _signed_in(client)
    [entry] = _audit(session, "login.sso.refused")
    assert "(email_not_verified)" in entry.detail


def test_an_expired_id_token_is_refused(client: TestClient, session: Session) -> None:
    # The provider itself issues tokens that expired an hour ago (beyond any leeway).
    with run_provider(token_max_age=timedelta(hours=-1)) as stale:
        agency = _agency(session, stale.issuer)
        make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
        stale.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
        response = _sign_in(client, stale, "siti")
    assert response.status_code == 400
    assert "tidak dapat diverifikasi" in response.text
    assert not _signed_in(client)
    [entry] = _audit(session, "login.sso.refused")
    assert "ExpiredTokenError" in entry.detail


def test_self_registration_makes_a_supervisor_of_listed_domains_only(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer, allow_self_registration=True, domains="@kominfo.go.id")
    idp.set_user("rina", {"email": "rina@kominfo.go.id", "email_verified": True, "name": "Rina"})
    idp.set_user("joko", {"email": "joko@bkn.go.id", "email_verified": True})

    assert _sign_in(client, idp, "joko").status_code == 403
    assert _sign_in(client, idp, "rina").headers["location"] == "/"
    user = session.exec(select(User).where(User.email == "rina@kominfo.go.id")).one()
    assert (user.role, user.agency_id, user.name) == (Role.SUPERVISOR, agency.id, "Rina")
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"
    assert len(_audit(session, "user.self_registered")) == 1


def test_a_locked_address_gets_no_sso_either(
    client: TestClient, session: Session, idp: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gaung.settings import get_settings

    monkeypatch.setattr(get_settings().auth, "max_failures_per_address", 2)
    agency = _agency(session, idp.issuer)
    make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    idp.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 400
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 429
    locked = client.get("/login/sso/kominfo", follow_redirects=False)
    assert locked.status_code == 429
    assert "Retry-After" in locked.headers
    assert [e.action for e in _audit(session, "login.locked.address")] == ["login.locked.address"]


def test_without_a_secret_gaung_is_a_public_client(
    client: TestClient, session: Session, idp: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAUNG_OIDC__KOMINFO__CLIENT_SECRET")
    agency = _agency(session, idp.issuer)
    make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    idp.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
    # The mock only knows confidential clients and refuses; Keycloak takes a public client.
    assert _sign_in(client, idp, "siti").status_code == 400
    [token_request] = idp.tokens()
    assert token_request.authorization == ""
    assert token_request.form()["client_id"] == CLIENT_ID
    assert "code_verifier" in token_request.form()


# --- Keycloak's issuer shape -------------------------------------------------------------


def test_keycloak_realm_issuer_discovery_and_sign_in(
    client: TestClient, session: Session, keycloak: Provider
) -> None:
    issuer = keycloak.at(REALM)
    metadata = provider.discover(issuer)
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"].startswith(issuer + "/")
    assert metadata["jwks_uri"].startswith(issuer + "/")
    assert keycloak.requests[0].path == f"{REALM}/.well-known/openid-configuration"

    # Typed with a trailing slash, stored as Keycloak writes it in `iss`.
    agency = _agency(session, issuer + "/")
    assert oidc.get(session, agency.id or 0) is not None
    assert oidc.by_slug(session, "kominfo")[1].issuer == issuer  # type: ignore[index]
    make_user(session, agency, Role.APPROVER, email="siti@kominfo.go.id")
    keycloak.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})
    assert _sign_in(client, keycloak, "siti").status_code == 303
    assert _signed_in(client)


def _token_from(keycloak: Provider, realm: str, client_id: str, nonce: str) -> dict[str, object]:
    """An ID token straight from a realm of the provider (no Gaung involved)."""
    issuer = keycloak.at(realm)
    url = (
        f"{issuer}/oauth2/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri=http://testserver/cb&scope=openid+email&state=s&nonce={nonce}"
    )
    keycloak.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True}, issuer)
    code = parse_qs(urlsplit(keycloak.authorize(url, "siti")).query)["code"][0]
    response = httpx.post(
        f"{issuer}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://testserver/cb",
        },
        auth=(client_id, "x"),
    )
    assert response.status_code == 200, response.text
    token: dict[str, object] = response.json()
    return token


def test_keycloak_id_token_checks_iss_aud_nonce(keycloak: Provider) -> None:
    bkn = keycloak.at(REALM)
    metadata = provider.discover(bkn)
    good = _token_from(keycloak, REALM, CLIENT_ID, "n-1")
    claims = provider.validate_id_token(bkn, CLIENT_ID, metadata, good, "n-1")
    assert claims["iss"] == bkn
    assert claims["email_verified"] is True

    def refused(token: dict[str, object], client_id: str, nonce: str) -> str:
        with pytest.raises(provider.OidcError) as caught:
            provider.validate_id_token(bkn, client_id, metadata, token, nonce)
        assert caught.value.kind == "invalid_token"
        return caught.value.detail

    # Signed with the same key (so the signature is good) by another realm: wrong `iss`.
    other = _token_from(keycloak, "/realms/other", CLIENT_ID, "n-2")
    assert "iss" in refused(other, CLIENT_ID, "n-2")
    # Issued to another client of the realm: wrong `aud`.
    assert "aud" in refused(_token_from(keycloak, REALM, "other-app", "n-3"), CLIENT_ID, "n-3")
    # Not the nonce this browser was given.
    assert "nonce" in refused(good, CLIENT_ID, "n-other")
    # A signature that does not verify.
    header, payload, signature = str(good["id_token"]).split(".")
    forged = {**good, "id_token": f"{header}.{payload}.{signature[::-1]}"}
    assert "Signature" in refused(forged, CLIENT_ID, "n-1")


def test_discovery_must_name_the_configured_issuer(keycloak: Provider) -> None:
    # A realm URL typed without the realm: the root answers nothing.
    with pytest.raises(provider.OidcError) as caught:
        provider.discover(keycloak.base)
    assert caught.value.kind == "misconfigured"


# --- configuration -----------------------------------------------------------------------


def test_the_admin_page_sets_the_provider(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.web.conftest import login_staff

    agency = make_agency(session, slug="bkn-pusat", name="BKN Pusat")
    admin = make_user(session, agency, Role.ADMIN)
    editor = make_user(session, agency, Role.EDITOR)
    login_staff(client, editor)
    assert client.get("/console/sso").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client, "/console")})

    login_staff(client, admin)
    page = client.get("/console/sso")
    assert "GAUNG_OIDC__BKN_PUSAT__CLIENT_SECRET" in page.text
    assert "http://testserver/login/sso/callback" in page.text
    token = csrf_from(client, "/console/sso")
    bad = client.post(
        "/console/sso",
        data={
            "csrf_token": token,
            "issuer": "http://sso.example.go.id/realms/asn",
            "client_id": "gaung",
        },
    )
    assert bad.status_code == 400
    assert "https://" in bad.text
    saved = client.post(
        "/console/sso",
        data={
            "csrf_token": token,
            "issuer": "https://sso.example.go.id/realms/asn/",
            "client_id": "gaung",
            "allow_self_registration": "on",
            "domains": "bkn.go.id",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    session.expire_all()
    config = oidc.get(session, agency.id or 0)
    assert config is not None
    session.refresh(config)
    assert config.issuer == "https://sso.example.go.id/realms/asn"
    assert config.allow_self_registration
    assert config.domains == ["bkn.go.id"]
    assert [e.actor_id for e in _audit(session, "sso.configured")] == [admin.id]
    client.post("/logout", data={"csrf_token": csrf_from(client, "/console")})
    assert "/login/sso/bkn-pusat" in client.get("/login").text

    login_staff(client, admin)
    client.post("/console/sso/remove", data={"csrf_token": csrf_from(client, "/console/sso")})
    session.expire_all()
    assert oidc.get(session, agency.id or 0) is None
    assert client.get("/login/sso/bkn-pusat").status_code == 404


def test_sso_still_asks_for_the_second_factor_the_person_set_up(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer)
    editor = make_user(session, agency, Role.EDITOR, email="siti@kominfo.go.id")
    secret = two_factor.begin(session, editor)
    two_factor.confirm(session, editor, pyotp.TOTP(secret).now())
    idp.set_user("siti", {"email": "siti@kominfo.go.id", "email_verified": True})

    response = _sign_in(client, idp, "siti")

    assert response.status_code == 303
    assert response.headers["location"] == "/login/two-factor"
    assert not _signed_in(client)


def test_sso_sends_a_required_role_without_a_second_factor_to_set_one_up(
    client: TestClient, session: Session, idp: Provider
) -> None:
    agency = _agency(session, idp.issuer)
    agency.require_two_factor = True
    session.add(agency)
    session.commit()
    make_user(session, agency, Role.APPROVER, email="budi@kominfo.go.id")
    idp.set_user("budi", {"email": "budi@kominfo.go.id", "email_verified": True})

    response = _sign_in(client, idp, "budi")

    assert response.headers["location"] == "/login/two-factor/setup"
    assert not _signed_in(client)
