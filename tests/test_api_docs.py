"""The API docs page (/api/v1/docs): "Try it out" signed in a real browser, the secret never
leaving it; the page's CSP; the guides it links to; the examples in the schema, run as they are.

The browser is Debian's chromium (scripts/browser.sh installs it) driven by Playwright's sync
API. Set FLUXA_DOCS_SCREENSHOT=docs/api-docs.png to write the README's screenshot
(scripts/docs_screenshot.sh does).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from django.test import Client

from api.csp import STRICT_POLICY

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("FLUXA_CHROMIUM_BIN", "/usr/bin/chromium")


@pytest.fixture
def browser_page(monkeypatch, live_server):
    """A fresh Chromium page. Playwright's sync API runs an event loop in this thread, so
    Django's ORM calls made here meanwhile need DJANGO_ALLOW_ASYNC_UNSAFE. (Request it after
    the database fixtures: they are then set up before and torn down after the browser.)"""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/browser.sh installs Debian's chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _execute(page, operation_id: str, url_part: str, *, params: dict[str, str] | None = None):
    """Open one operation, "Try it out", fill parameters, "Execute"; returns the HTTP response
    the browser got and the status the page shows."""
    block = page.locator(f"[id$='-{operation_id}']").first
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    for name, value in (params or {}).items():
        block.locator(f"tr[data-param-name='{name}'] input").fill(value)
    with page.expect_response(lambda r: url_part in r.url and "/schema" not in r.url) as answer:
        block.locator("button.execute").click()
    status_cell = block.locator(".live-responses-table tr.response .response-col_status").first
    status_cell.wait_for()
    return answer.value, status_cell.inner_text().strip(), block


def test_try_it_out_is_signed_in_the_browser_and_the_secret_never_leaves_it(live_server, merchant_keys,
                                                                            browser_page):
    page = browser_page
    key = merchant_keys.test
    sent, problems = [], []
    page.on("request", lambda request: sent.append(request))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))

    document = page.goto(live_server.url + "/api/v1/docs")
    assert document.status == 200
    assert document.headers["content-security-policy"] == STRICT_POLICY
    page.locator(".opblock").first.wait_for()
    assert page.locator("#fx-mode").text_content() == "no key"

    page.fill("#fx-key-id", key.key_id)
    page.fill("#fx-secret", key.secret)
    page.click("#fx-use-key")
    status_line = page.locator("#fx-key-status")
    status_line.filter(has_text="Signing as").wait_for()
    assert f"Signing as {key.key_id} (test mode)" in status_line.inner_text()
    assert page.locator("#fx-mode").text_content() == "test mode"
    assert page.input_value("#fx-secret") == ""  # the field forgets it at once

    account, shown, account_block = _execute(page, "account_retrieve", "/api/v1/account")
    assert (account.status, shown) == (200, "200")
    assert account.json()["key_id"] == key.key_id and account.json()["mode"] == "test"

    charge, shown, _ = _execute(page, "charges_create", "/api/v1/charges")
    assert (charge.status, shown) == (201, "201"), charge.text()
    order_id = charge.json()["order"]["id"]

    orders, shown, _ = _execute(page, "orders_list", "/api/v1/orders", params={"limit": "5"})
    assert (orders.status, shown) == (200, "200"), orders.text()
    assert "limit=5" in orders.url  # the query string was signed as sent
    assert order_id in [order["id"] for order in orders.json()["data"]]

    # Every API request the page sent was signed, with the key id and never the secret.
    api_requests = [r for r in sent if "/api/v1/" in r.url and "/api/v1/schema" not in r.url
                    and "/api/v1/docs" not in r.url]
    assert len(api_requests) == 4  # the key check, then the three "Execute"s
    for request in api_requests:
        headers = request.all_headers()
        assert headers["x-api-key"] == key.key_id
        assert re.fullmatch(r"[0-9a-f]{64}", headers["x-signature"])
    for request in sent:
        everything = json.dumps([request.url, request.all_headers(), request.post_data or ""])
        assert key.secret not in everything, request.url

    # ... and kept nowhere: no web storage, cookie or URL holds it.
    stored = page.evaluate("""() => JSON.stringify({
        local: Object.entries(localStorage), session: Object.entries(sessionStorage),
        cookies: document.cookie, url: location.href, history: history.state })""")
    assert key.secret not in stored
    assert key.secret not in json.dumps(page.context.cookies())
    assert key.secret not in page.url
    assert not problems, problems  # no script error, no CSP violation

    screenshot = os.environ.get("FLUXA_DOCS_SCREENSHOT")
    if screenshot:
        # The key panel and the signed answer of GET /api/v1/account, the other operations closed.
        for operation_id in ("charges_create", "orders_list"):
            page.locator(f"[id$='-{operation_id}'] .opblock-summary").first.click()
        page.evaluate("window.scrollTo(0, 0)")
        box = account_block.locator(".live-responses-table").first.bounding_box()
        height = min(box["y"] + box["height"] + 24, 3000)
        page.screenshot(path=str(ROOT / screenshot), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height})


def test_a_live_key_needs_consent_a_skewed_clock_is_corrected_and_a_wrong_secret_is_reported(live_server, merchant_keys, browser_page):
    page = browser_page
    page.goto(live_server.url + "/api/v1/docs")
    page.locator(".opblock").first.wait_for()

    page.fill("#fx-key-id", merchant_keys.live.key_id)
    page.fill("#fx-secret", merchant_keys.live.secret)
    page.click("#fx-use-key")
    assert "live key moves real funds" in page.locator("#fx-key-status").inner_text()
    assert page.locator("#fx-mode").text_content() == "no key"

    page.fill("#fx-secret", merchant_keys.live.secret)
    page.check("#fx-allow-live")
    page.click("#fx-use-key")
    page.locator("#fx-key-status").filter(has_text="Signing as").wait_for()
    assert page.locator("#fx-mode").text_content() == "live mode: real funds"

    # A computer whose clock is two hours off: the key check signs with the server's time.
    page.clock.set_system_time(time.time() - 7200)
    refused = []
    page.on("response", lambda r: refused.append(r.status) if r.url.endswith("/api/v1/account") else None)
    page.fill("#fx-key-id", merchant_keys.test.key_id)
    page.fill("#fx-secret", merchant_keys.test.secret)
    page.click("#fx-use-key")
    page.locator("#fx-key-status").filter(has_text="Signing as").wait_for()
    assert page.locator("#fx-mode").text_content() == "test mode"
    assert refused == [401, 200]  # timestamp_out_of_window, then signed on the server's time
    answer, shown, _ = _execute(page, "channels_list", "/api/v1/channels")
    assert (answer.status, shown) == (200, "200"), answer.text()

    page.fill("#fx-key-id", merchant_keys.test.key_id)
    page.fill("#fx-secret", "not-the-secret")
    page.click("#fx-use-key")
    page.locator("#fx-key-status").filter(has_text="refused").wait_for()
    assert "invalid_signature" in page.locator("#fx-key-status").inner_text()


@pytest.mark.django_db
def test_docs_page_is_served_under_a_strict_csp_without_inline_script():
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == STRICT_POLICY
    assert "'unsafe-inline'" not in STRICT_POLICY and "'unsafe-eval'" not in STRICT_POLICY
    assert response["Referrer-Policy"] == "no-referrer"
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "<style" not in html and "https://" not in html  # no inline style, no CDN
    assert 'href="/docs/api.md#create-a-charge-post-apiv1charges"' in html
    assert "Make one in the merchant portal" in html and "/portal/keys" in html


@pytest.mark.django_db
def test_guides_render_with_section_anchors():
    client = Client()
    api_md = client.get("/docs/api.md")
    assert api_md.status_code == 200 and api_md["Content-Security-Policy"] == STRICT_POLICY
    assert 'id="orders"' in api_md.content.decode()
    readme = client.get("/docs/README.md")
    assert 'id="signing-requests"' in readme.content.decode()
    assert 'src="/docs/api-docs.png"' in readme.content.decode()
    picture = client.get("/docs/api-docs.png")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert client.get("/docs/nope.md").status_code == 404
    assert client.get("/docs/..%2Fsettings.md").status_code == 404


def _schema(client: Client) -> dict:
    return json.loads(client.get("/api/v1/schema", HTTP_ACCEPT="application/json").content)


def _snippet(description: str, language: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", description, re.S).group(1)


@pytest.mark.django_db
def test_every_signed_operation_describes_curl_and_python():
    schema = _schema(Client())
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security"):
                continue
            curl, python = _snippet(operation["description"], "sh"), _snippet(operation["description"], "python")
            assert f"sign {method.upper()} " in curl and '"$BASE' in curl, (method, path)
            assert f'client.request("{method.upper()}", ' in python, (method, path)
            compile(python, f"{method} {path}", "exec")
            assert "Views read `self.merchant`" not in operation["description"]


def test_curl_and_python_examples_from_the_schema_are_accepted(live_server, merchant_keys):
    key = merchant_keys.test
    schema = _schema(Client())
    readme = (ROOT / "README.md").read_text()
    sign_helper = re.search(r"^sign\(\) \{.*?^\}", readme, re.S | re.M).group(0)
    env = {**os.environ, "BASE": live_server.url, "KEY_ID": key.key_id, "SECRET": key.secret}

    for path in ("/api/v1/account", "/api/v1/orders"):
        curl = _snippet(schema["paths"][path]["get"]["description"], "sh")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", sign_helper + "\n" + curl], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and '"error"' not in done.stdout, done.stdout + done.stderr

    python = _snippet(schema["paths"]["/api/v1/charges"]["post"]["description"], "python")
    python = python.replace('"http://127.0.0.1:8000"', repr(live_server.url))
    python = python.replace('key_id="fk_test_..."', f"key_id={key.key_id!r}").replace(
        'secret="..."', f"secret={key.secret!r}")
    scope: dict = {}
    exec(compile(python, "charges example", "exec"), scope)
    assert scope["status"] == 201, scope["body"]
