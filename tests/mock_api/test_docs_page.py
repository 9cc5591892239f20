"""/openapi.json describes the mock with Stripe's schemas; /docs is Swagger UI, served offline."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from openapi_spec_validator import validate

from mock_api.dataset import OBJECT_NAME, RESOURCES
from mock_api.docs import ASSETS_DIR
from mock_api.stripe_spec import stripe_schemas
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api({"MOCK_NOW": "2026-01-20T00:00:00Z"}, tmp_path_factory.mktemp("docs"))
    yield server
    server.stop()


class _Links(HTMLParser):
    """Every URL the page makes the browser load (or link to)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append((tag, value))
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def test_docs_loads_only_assets_the_mock_serves(mock: ServerProcess) -> None:
    page = requests.get(f"{mock.url}/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    links = _Links()
    links.feed(page.text)
    assets = [url for tag, url in links.urls if tag in ("script", "link")]
    assert len(assets) == 3, links.urls
    for tag, url in links.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), (tag, url)
    for url in assets:
        response = requests.get(f"{mock.url}{url}", timeout=10)
        assert response.status_code == 200, url
        suffix = Path(url).suffix
        assert response.headers["Content-Type"].split(";")[0] == CONTENT_TYPES[suffix], url
        assert response.content == (ASSETS_DIR / Path(url).name).read_bytes()
    script = "".join(links.inline_scripts)
    assert 'url: "/openapi.json"' in script and "validatorUrl: null" in script
    assert "http://" not in script and "https://" not in script
    assert requests.get(f"{mock.url}/docs/assets/index.html", timeout=10).status_code == 404
    assert requests.get(f"{mock.url}/docs/assets/..%2fLICENSE", timeout=10).status_code == 404


def test_openapi_json_is_valid_and_uses_stripes_schemas(mock: ServerProcess) -> None:
    spec = requests.get(f"{mock.url}/openapi.json", timeout=30).json()
    validate(spec)  # raises on anything that is not valid OpenAPI 3
    components = spec["components"]["schemas"]
    assert components == stripe_schemas()

    def target(schema: dict) -> dict:
        assert schema["$ref"].startswith("#/components/schemas/")
        return components[schema["$ref"].rsplit("/", 1)[-1]]

    for resource in (*RESOURCES, "events"):
        name = OBJECT_NAME.get(resource, "event")
        listed = spec["paths"][f"/v1/{resource}"]["get"]["responses"]["200"]
        page = listed["content"]["application/json"]["schema"]
        assert target(page["properties"]["data"]["items"]) is components[name]
        one = spec["paths"][f"/v1/{resource}/{{id}}"]["get"]["responses"]["200"]
        schema = one["content"]["application/json"]["schema"]
        if resource == "customers":
            assert [target(s) for s in schema["anyOf"]] == [
                components["customer"],
                components["deleted_customer"],
            ]
        else:
            assert target(schema) is components[name]
        assert components[name]["properties"]["object"]["enum"] == [name]


# Slow: needs Chromium (`make chromium`, which `make test` runs; `make test-fast` does not).
@pytest.mark.slow
def test_chromium_renders_the_operations_offline(mock: ServerProcess, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run `make chromium` (Debian's package)"
    # Every host but the mock's is unresolvable: the page must render from the mock alone.
    dom = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{mock.url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    operations = 2 * (len(RESOURCES) + 1) + 1  # list and retrieve each, and /health
    assert dom.stdout.count('class="opblock opblock-get') == operations, dom.stdout[-3000:]
    for resource in RESOURCES:
        assert f"List {resource}, newest first" in dom.stdout
