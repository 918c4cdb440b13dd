"""The recipe of docs/deploy.md, run: ``opensmm serve`` started as ``deploy/systemd/
opensmm.service`` starts it (its ExecStart, with ``deploy/opensmm.env``), on PostgreSQL, behind
Debian's Caddy running ``deploy/Caddyfile`` (only the domain and the ports changed, and Caddy's
own CA instead of Let's Encrypt), driven over HTTPS from other loopback addresses.

What it proves: API answers through the proxy, HSTS and Secure cookies on the pages (opensmm
believes Caddy's X-Forwarded-Proto), the client's own address seen through the proxy (a key
allowed from 127.0.0.2 only works from there, through Caddy), X-Forwarded-For believed from
the trusted proxy only (never from a client, nor passed on by Caddy), HTTP sent to HTTPS, and
``/metrics`` not served through the proxy."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from opensmm.accounts import staff
from opensmm.accounts.keys import hash_key
from opensmm.accounts.models import ApiKey
from opensmm.audit.actor import Actor
from opensmm.db import Database
from tests.deploy.support import (
    CADDY,
    DEPLOY,
    INSTALLED_OPENSMM,
    SHIPPED_DOMAIN,
    SHIPPED_PORT,
    debian_program,
    environment_file,
    exec_start,
)
from tests.support.panel import Panel, free_port, opensmm_env, wait_until_up
from tests.web.support import WebClient, make_person

DOMAIN = "panel.test"
HSTS = "max-age=31536000"
REFUSED = {"error": "This API key cannot be used from your IP address"}


def caddyfile(domain: str, opensmm_port: int, http_port: int, https_port: int, data: Path) -> str:
    """``deploy/Caddyfile`` for this machine: the domain and opensmm's port replaced, and
    global options for a test: other ports than 80 and 443, Caddy's own CA for every site
    (``local_certs``: ``tls internal`` for all), kept in ``data``, out of the system's trust
    store, no admin endpoint."""
    shipped = (DEPLOY / "Caddyfile").read_text()
    upstream = f"127.0.0.1:{SHIPPED_PORT}"
    assert shipped.count(f"\n{SHIPPED_DOMAIN} {{") == 1 and shipped.count(upstream) == 1
    site = shipped.replace(SHIPPED_DOMAIN, domain).replace(upstream, f"127.0.0.1:{opensmm_port}")
    return (
        "{\n"
        "\tadmin off\n"
        f"\thttp_port {http_port}\n"
        f"\thttps_port {https_port}\n"
        "\tlocal_certs\n"
        "\tskip_install_trust\n"
        f"\tstorage file_system {data}\n"
        "}\n\n" + site
    )


@dataclass
class Site:
    panel: Panel
    https_port: int
    http_port: int
    ca: ssl.SSLContext
    caddy_log: Path

    def client(self, source: str) -> httpx.Client:
        """A client on ``source`` (127.0.0.x) speaking HTTPS to Caddy for DOMAIN."""
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.https_port}",
            headers={"Host": f"{DOMAIN}:{self.https_port}"},
            transport=httpx.HTTPTransport(verify=self.ca, local_address=source),
            timeout=30,
        )

    def direct(self, source: str) -> httpx.Client:
        """A client on ``source`` speaking plain HTTP to opensmm itself."""
        return httpx.Client(
            base_url=self.panel.url,
            transport=httpx.HTTPTransport(local_address=source),
            timeout=30,
        )


def request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return client.request(method, path, extensions={"sni_hostname": DOMAIN}, **kwargs)


def _start_opensmm(panel: Panel, work: Path) -> None:
    """``opensmm serve`` as opensmm.service runs it: its ExecStart, the env file's settings."""
    port = free_port()
    settings = environment_file(
        OPENSMM_DATABASE_URL=panel.database_url,
        OPENSMM_SERVE_PORT=str(port),
        OPENSMM_PUBLIC_URL=f"https://{DOMAIN}",
    )
    command = exec_start("opensmm.service", settings)
    assert command[0] == INSTALLED_OPENSMM
    assert command[1:] == ["serve", "--host", "127.0.0.1", "--port", str(port),
                           "--workers", "2", "--no-worker"]
    command[0] = str(Path(sys.executable).parent / "opensmm")  # this checkout's venv
    panel.url = f"http://127.0.0.1:{port}"
    panel.log_path = work / "opensmm.log"
    panel.process = subprocess.Popen(
        command, env=opensmm_env(panel.database_url, **settings), cwd=work,
        stdout=panel.log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    wait_until_up(panel.url, panel.process, panel.log_path, seconds=90)


def _wait_for_https(site: Site, caddy: subprocess.Popen[bytes], root_ca: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if caddy.poll() is not None:
            raise RuntimeError(f"caddy exited:\n{site.caddy_log.read_text()[-4000:]}")
        if root_ca.exists():
            site.ca = ssl.create_default_context(cafile=str(root_ca))
            try:
                with site.client("127.0.0.1") as http:
                    if request(http, "GET", "/healthz").status_code == 200:
                        return
            except (httpx.HTTPError, ssl.SSLError):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"caddy did not serve HTTPS:\n{site.caddy_log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def site(database_servers: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    caddy_program = debian_program(CADDY, "caddy")
    work = tmp_path_factory.mktemp("deploy")
    server = database_servers["postgresql"]
    url = server.new_database()
    panel = Panel(kind="postgresql", database_url=url, db=Database(url))
    caddy: subprocess.Popen[bytes] | None = None
    try:
        _start_opensmm(panel, work)
        port = int(panel.url.rsplit(":", 1)[1])
        site = Site(panel, free_port(), free_port(), ssl.create_default_context(),
                    work / "caddy.log")
        config = work / "Caddyfile"
        config.write_text(caddyfile(DOMAIN, port, site.http_port, site.https_port,
                                    work / "caddy-data"))
        home = work / "caddy-home"
        env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config")}
        caddy = subprocess.Popen(
            [caddy_program, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=env, stdout=site.caddy_log.open("wb"), stderr=subprocess.STDOUT,
        )
        _wait_for_https(site, caddy, work / "caddy-data/pki/authorities/local/root.crt")
        yield site
    finally:
        if caddy is not None:
            caddy.terminate()
            caddy.wait(timeout=15)
        panel.stop()
        panel.db.dispose()
        server.drop(url)


def test_api_pages_and_headers_over_https_through_caddy(site: Site) -> None:
    panel = site.panel
    customer = panel.customer(balance="5")
    service = panel.service(rate="1")
    with site.client("127.0.0.2") as http:
        ready = request(http, "GET", "/readyz")
        assert (ready.status_code, ready.json()) == (200, {"ok": True})
        assert ready.headers["strict-transport-security"] == HSTS

        def api(**form: Any) -> Any:
            answer = request(http, "POST", "/api/v2", data={"key": customer.key, **form})
            assert answer.status_code == 200 and answer.headers["content-type"] == (
                "application/json"
            )
            assert answer.headers["strict-transport-security"] == HSTS
            return answer.json()

        assert api(action="balance") == {"balance": "5.00", "currency": "USD"}
        order = api(action="add", service=service, link="https://x.test/p", quantity=100)
        assert set(order) == {"order"}
        assert api(action="status", order=order["order"])["status"] == "Pending"
        assert api(action="balance") == {"balance": "4.90", "currency": "USD"}
        assert api(action="services")[0]["service"] == service

        # /metrics: opensmm refuses whatever a proxy relays (loopback only, or a token).
        assert request(http, "GET", "/metrics").status_code == 403

    # The pages: every cookie Secure (and HttpOnly but the language), HSTS on every page.
    person = make_person(panel)
    browser = WebClient(f"https://127.0.0.1:{site.https_port}")
    browser.http = site.client("127.0.0.2")
    browser.http.event_hooks["request"] = [
        lambda req: req.extensions.update(sni_hostname=DOMAIN)
    ]
    try:
        form = browser.get("/login")
        answer = browser.login(person)
        cookies = [*form.headers.get_list("set-cookie"), *answer.headers.get_list("set-cookie")]
        names = {cookie.split("=", 1)[0] for cookie in cookies}
        assert {"opensmm_anon", "opensmm_session"} <= names, cookies
        for cookie in cookies:
            assert "; Secure" in cookie and "SameSite=lax" in cookie, cookie
        for page in (form, answer):
            assert page.headers["strict-transport-security"] == HSTS
        assert browser.get(answer.headers["location"]).status_code == 200  # logged in
    finally:
        browser.close()

    # Plain HTTP to Caddy is sent to HTTPS; plain HTTP to opensmm itself gets no HSTS.
    with httpx.Client(timeout=30) as plain:
        moved = plain.get(f"http://127.0.0.1:{site.http_port}/api/v2?action=services",
                          headers={"Host": DOMAIN})
        assert moved.status_code == 308
        # (Caddy names no port in it: https_port is a test's, 443 on a panel.)
        assert moved.headers["location"] == f"https://{DOMAIN}/api/v2?action=services"
    with site.direct("127.0.0.1") as http:
        assert "strict-transport-security" not in http.get("/readyz").headers


def test_the_client_address_comes_through_the_proxy_and_only_from_it(site: Site) -> None:
    panel = site.panel
    customer = panel.customer(balance="3")
    with panel.write() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(customer.key)))
        assert key_id is not None
        staff.allow_ips(session, Actor.cli(), key_id, "127.0.0.2")
    balance = {"key": customer.key, "action": "balance"}
    ok = {"balance": "3.00", "currency": "USD"}

    def answer(http: httpx.Client, **headers: str) -> Any:
        response = request(http, "POST", "/api/v2", data=balance, headers=headers)
        assert response.status_code == 200
        return response.json()

    with site.client("127.0.0.2") as http:  # through Caddy, whose peer is 127.0.0.1
        assert answer(http) == ok
    with site.client("127.0.0.3") as http:  # Caddy replaces what the client claims
        assert answer(http, **{"X-Forwarded-For": "127.0.0.2"}) == REFUSED
        assert answer(http) == REFUSED
    with site.direct("127.0.0.3") as http:  # not a trusted proxy: its header is ignored
        assert answer(http, **{"X-Forwarded-For": "127.0.0.2"}) == REFUSED
    with site.direct("127.0.0.1") as http:  # the trusted proxy's address: believed
        assert answer(http, **{"X-Forwarded-For": "127.0.0.2"}) == ok
        assert answer(http) == REFUSED
