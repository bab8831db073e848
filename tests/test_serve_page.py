"""The web page at ``/`` in a real headless Chromium (Debian's ``chromium``, driven by
playwright's Python API): it loads, a case runs, the differential, the evidence graph
and a highlighted, verified citation appear. The screenshot is written to
``tests/artifacts/serve_page.png`` (and the pytest tmp dir)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
import serve_kb
import uvicorn
from playwright import sync_api as playwright

from kgrag.serve.app import create_app
from kgrag.serve.config import ServeConfig
from kgrag.serve.service import KnowledgeService

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
KEY = "page-test-key"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("serve-page")
    serve_kb.build(root)
    svc = KnowledgeService(str(root / "kb"), settings=serve_kb.settings_for(root))
    port = free_port()
    app = create_app(ServeConfig(port=port, api_keys=KEY), svc)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_page_runs_a_case_in_chromium(base_url: str, tmp_path: Path) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(base_url + "/")
        assert page.title().startswith("kgrag")
        page.fill("#apikey", KEY)
        page.select_option("#example", "0")
        assert "seizures" in page.input_value("#case")
        page.click("#run")
        page.wait_for_selector("#candidates tr", timeout=30_000)
        first = page.inner_text("#candidates tr:first-child")
        assert "Dravet syndrome" in first and "%" in first
        assert "nervous system disease" in first  # category path
        assert "Seizure" in page.inner_text("#present") and "Fever" in page.inner_text("#absent")
        page.wait_for_selector("#passages mark", timeout=30_000)
        assert page.locator("#graph svg rect").count() >= 4
        assert "absent: Fever" in page.inner_text("#graph")
        mark = page.inner_text("#passages mark")
        assert "seizures" in mark
        assert "verified" in page.inner_text("#passages .verified")
        assert page.inner_text("#questions")  # follow-up questions
        page.click("#candidates tr:nth-child(2)")
        page.wait_for_function("document.querySelector('#chosen').textContent !== 'Dravet syndrome'")
        page.click("#candidates tr:first-child")
        page.wait_for_selector("#passages mark")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "serve_page.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copy(shot, tmp_path / "serve_page.png")
        browser.close()
    assert not errors, errors
    assert all(u.startswith(base_url) for u in requests), "the page loaded something from elsewhere"
    assert shot.stat().st_size > 10_000


def test_page_grounds_the_users_differential(base_url: str, tmp_path: Path) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base_url + "/")
        page.fill("#apikey", KEY)
        page.select_option("#example", "0")
        page.fill("#hypotheses", "Dravet syndrome\nZorblax syndrome")
        page.click("#run")
        page.wait_for_selector("#hypothesis-cards .hypothesis", timeout=30_000)
        cards = page.locator("#hypothesis-cards .hypothesis")
        assert cards.count() == 2
        first, second = cards.nth(0).inner_text(), cards.nth(1).inner_text()
        assert "Dravet syndrome" in first and "for: Seizure" in first
        assert "Zorblax syndrome" in second and "unresolved" in second
        shot = tmp_path / "serve_page_grounded.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
