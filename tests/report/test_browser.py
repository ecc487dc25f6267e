"""Open the report in headless Chromium and check what a reader's browser shows.

Skipped where /usr/bin/chromium is missing (Debian package ``chromium``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from auditkit.report.html import write_report
from tests.report.conftest import create_world

CHROMIUM = Path("/usr/bin/chromium")

# Payloads that would leave a trace in the DOM if they ran.
TITLE_PAYLOAD = "<script>document.title='pwned'</script>"
ELEMENT_PAYLOAD = (
    "<img src=x "
    "onerror=\"document.body.appendChild(document.createElement('marquee'))\">"
)
SVG_PAYLOAD = "<svg onload=\"document.body.setAttribute('data-pwned','1')\">"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


def _dump_dom(page: Path, profile: Path) -> str:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=2000",
        "--dump-dom",
        page.as_uri(),
    ]
    completed = subprocess.run(  # noqa: S603 - fixed binary, arguments built here
        command, capture_output=True, text=True, timeout=120, check=True
    )
    return completed.stdout


@pytest.fixture(scope="module")
def dumped_dom(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp_path = tmp_path_factory.mktemp("browser")
    create_world(tmp_path / "world.duckdb")
    march_world = duckdb.connect(str(tmp_path / "world.duckdb"))
    march_world.execute(
        "UPDATE findings SET tool = ? WHERE call_id = 'c6'", [TITLE_PAYLOAD]
    )
    march_world.execute(
        "UPDATE findings SET resource = ? WHERE call_id = 'c6'", [ELEMENT_PAYLOAD]
    )
    march_world.execute(
        "UPDATE findings SET actor = ? WHERE call_id = 'c5'", [SVG_PAYLOAD]
    )
    result = write_report(march_world, tmp_path / "report", title="March review")
    march_world.close()
    return _dump_dom(result.html, tmp_path / "profile")


def test_browser_keeps_title(dumped_dom: str) -> None:
    assert "<title>March review</title>" in dumped_dom
    assert "pwned" not in dumped_dom.split("<body", 1)[0]


def test_browser_adds_no_element(dumped_dom: str) -> None:
    assert "<marquee" not in dumped_dom
    assert "data-pwned" not in dumped_dom.split(">", dumped_dom.count("<body"))[0]
    assert re.search(r"<body[^>]*data-pwned", dumped_dom) is None
    assert re.search(r"<img", dumped_dom) is None


def test_browser_shows_payloads_as_text(dumped_dom: str) -> None:
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dumped_dom
    assert "&lt;img src=x onerror=" in dumped_dom


def test_browser_renders_every_chart(dumped_dom: str) -> None:
    figures = re.findall(r'<figure class="chart">(.*?)</figure>', dumped_dom, re.DOTALL)
    assert len(figures) == 4
    for figure in figures:
        svg = re.search(r'<svg[^>]*width="(\d+)"[^>]*height="(\d+)"', figure)
        assert svg is not None
        assert int(svg.group(1)) > 0
        assert int(svg.group(2)) > 0
        assert re.search(r"<path[^>]*\sd=\"M", figure) is not None
