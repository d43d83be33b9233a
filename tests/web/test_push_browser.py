"""Web Push end to end: a real Chromium on a phone-sized page turns notifications on, a real
`gaung serve --sandbox` pushes an urgent notice to the sandbox's push service, and the
page's real service worker shows it.

Chromium sends every subscription to its own push service (Firebase Cloud Messaging): no
setting points ``pushManager.subscribe`` at another one, and this machine is offline. So
the browser's side of the push service is played by the sandbox: the test asks it for a
subscription (as Chromium would ask FCM), and an init script makes
``PushManager.subscribe`` return that one (recording the VAPID key the page passed). All
else is real: the inbox page and push.js, the CSRF-checked subscribe endpoint, dispatch,
the routing to push, the sender, VAPID and aes128gcm (checked and decrypted by the
sandbox's push service), and the service worker, to which the decrypted notice is then
delivered as Chromium does with a push (DevTools' ``ServiceWorker.deliverPushMessage``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.models import Assignment
from channels import webpush
from content.models import CampaignKind, PostStatus
from roster.security import make_magic_token
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.test_e2e_browser import _free_port, browser  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.slow

PHONE: ViewportSize = {"width": 390, "height": 844}

# Chromium's push service is FCM; the sandbox's stands in for it (see the module doc).
FAKE_SUBSCRIBE = """
(subscription) => {
  // Survives the reload push.js does after subscribing, as a browser's subscription would.
  const fake = () => ({
    endpoint: subscription.endpoint,
    options: { applicationServerKey: null, userVisibleOnly: true },
    toJSON: () => subscription,
    unsubscribe: () => Promise.resolve(sessionStorage.removeItem("subscribedWith") || true),
  });
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    sessionStorage.setItem("subscribedWith", btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""));
    return Promise.resolve(fake());
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(sessionStorage.getItem("subscribedWith") ? fake() : null);
  };
}
"""


@pytest.fixture
def sandboxed_server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`gaung serve --sandbox` (its clock delivers the outbox); (base URL, sandbox URL)."""
    port, sandbox_port = _free_port(), _free_port()
    base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        "GAUNG_DATABASE_URL": db_url,
        "GAUNG_BASE_URL": base,
        "GAUNG_MEDIA_DIR": str(tmp_path / "media"),
        "GAUNG_SCHEDULER__ENABLED": "true",
        "GAUNG_SCHEDULER__POLL_SECONDS": "0.5",
        "GAUNG_SANDBOX__ENABLED": "true",
        "GAUNG_SANDBOX__PORT": str(sandbox_port),
    }
    gaung = Path(sys.executable).with_name("gaung")
    cmd = [str(gaung), "serve", "--sandbox", "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(450):  # a loaded machine: up to 90 s
            try:
                up = httpx.get(f"{base}/login", timeout=1).status_code == 200
                if up and httpx.get(f"{sandbox}/push/stats", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("gaung serve did not start:\n" + (tmp_path / "server.log").read_text())
        yield base, sandbox
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _wait(what: str, check: Any, seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)  # polling another process: it offers nothing to block on
    raise AssertionError(f"timed out waiting for {what}")


def _registration_id(page: Page, cdp: Any) -> str:
    found: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for registration in event.get("registrations", []):
            if registration.get("scopeURL", "").endswith("/inbox/"):
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    for _ in range(600):
        if "id" in found:
            return found["id"]
        page.wait_for_timeout(100)  # lets Playwright hand over the DevTools events
    raise AssertionError("the service worker registration was not reported")


def test_an_asn_turns_on_notifications_and_an_urgent_clarification_arrives(
    db: Engine,
    session: Session,
    sandboxed_server: tuple[str, str],
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    base, sandbox = sandboxed_server
    agency = make_agency(session)
    editor = make_user(session, agency)
    asn = make_asn(session, make_unit(session, agency), platforms=["x"])
    assert asn.id is not None
    (subscription,) = httpx.post(f"{sandbox}/push/subscriptions", json={"count": 1}).json()
    sid = subscription["endpoint"].rsplit("/", 1)[-1]

    context = browser.new_context(base_url=base, viewport=PHONE, locale="id-ID")
    context.grant_permissions(["notifications"], origin=base)
    page = context.new_page()
    page.set_default_timeout(90_000)  # generous: the machine may be busy
    page.add_init_script(script=f"({FAKE_SUBSCRIBE})({json.dumps(subscription)})")
    page.goto(f"/inbox/login/{make_magic_token(asn.id, asn.login_epoch)}")
    page.goto("/inbox/settings")
    page.click("[data-push-enable]")
    page.wait_for_selector("ul.devices li")
    page.screenshot(path=str(tmp_path / "push-settings.png"), full_page=True)

    assert page.evaluate("sessionStorage.getItem('subscribedWith')") == webpush.ensure_vapid_key()
    (device,) = webpush.devices(session, asn.id)
    assert "·" in device.label
    assert page.locator("[data-push-status]").inner_text() == "Notifikasi aktif di perangkat ini."
    cdp = context.new_cdp_session(page)
    registration = _registration_id(page, cdp)
    heard = "window.__heard = []; GaungPush.onNotice((n) => window.__heard.push(n));"
    page.evaluate(heard)

    campaign = make_campaign(session, agency, editor, kind=CampaignKind.HOAX_CLARIFICATION)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    assert post.id is not None
    dispatch_post(db, post.id)
    assignment = session.exec(select(Assignment).where(Assignment.post_id == post.id)).one()

    # The server's clock pushes it; the sandbox checked VAPID and decrypted the body.
    (notice,) = _wait(
        "the push at the sandbox", lambda: httpx.get(f"{sandbox}/push/messages/{sid}").json()
    )
    assert notice["url"] == f"{base}/inbox/{assignment.id}"
    assert notice["urgent"] is True
    assert campaign.title in notice["title"]
    assert httpx.get(f"{sandbox}/push/stats").json()["rejected"] == 0

    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration, "data": json.dumps(notice)},
    )
    for _ in range(600):  # wait_for_function would need eval, which the CSP forbids
        if page.evaluate("window.__heard.length"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__heard[0]") == notice
    shown = page.evaluate(
        """async () => {
          const reg = await navigator.serviceWorker.getRegistration("/inbox/");
          const list = await reg.getNotifications();
          return list.map((n) => ({title: n.title, url: n.data.url, tag: n.tag,
                                    sticky: n.requireInteraction}));
        }"""
    )
    assert shown == [
        {
            "title": notice["title"],
            "url": notice["url"],
            "tag": f"gaung-assignment-{assignment.id}",
            "sticky": True,
        }
    ]
    context.close()
