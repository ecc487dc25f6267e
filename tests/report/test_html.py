from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from markupsafe import escape

from auditkit.report.html import (
    CONTENT_SECURITY_POLICY,
    unsafe_svg_markup,
    write_report,
)
from tests.report.conftest import IMG_PAYLOAD, JWT_TOKEN, SCRIPT_PAYLOAD

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb


@pytest.fixture
def march_page(march_reports: tuple[Path, Path]) -> str:
    return (march_reports[0] / "report.html").read_text(encoding="utf-8")


def test_page_shows_script_payload_as_text(march_page: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in march_page


def test_page_shows_img_payload_as_text(march_page: str) -> None:
    assert "&lt;img src=x onerror=alert(1)&gt;" in march_page


def test_page_has_no_script_or_img_element(march_page: str) -> None:
    assert re.search(r"<\s*script", march_page, re.IGNORECASE) is None
    assert re.search(r"<\s*img", march_page, re.IGNORECASE) is None
    assert SCRIPT_PAYLOAD not in march_page
    assert IMG_PAYLOAD not in march_page


def test_page_escapes_title(march_page: str) -> None:
    assert "<title>March &lt;b&gt;review&lt;/b&gt;</title>" in march_page


def test_page_forbids_scripts_by_policy(march_page: str) -> None:
    assert f'content="{escape(CONTENT_SECURITY_POLICY)}"' in march_page
    assert "script-src 'none'" in CONTENT_SECURITY_POLICY


def test_page_loads_nothing_external(march_page: str) -> None:
    assert re.search(r"<[^>]*\s(src|href)\s*=", march_page, re.IGNORECASE) is None
    assert "<link" not in march_page
    assert "@import" not in march_page


def test_page_redacts_token(march_page: str) -> None:
    assert JWT_TOKEN not in march_page


def test_page_embeds_one_svg_per_chart(march_page: str) -> None:
    assert march_page.count("<svg") == 4


def test_page_sections_read_top_to_bottom(march_page: str) -> None:
    sections = ["summary", "findings", "windows", "charts", "inputs"]
    positions = [march_page.index(f'<section id="{name}">') for name in sections]
    assert positions == sorted(positions)


def test_page_lists_most_severe_first(march_page: str) -> None:
    table = march_page[march_page.index('id="findings-table"') :]
    call_order = [table.index(f">{call}<") for call in ("c4", "c3", "c7", "c5", "c6")]
    assert call_order == sorted(call_order)


def test_page_caps_findings_table(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = write_report(march_world, tmp_path / "report", top_findings=2)
    page = result.html.read_text(encoding="utf-8")
    table = page[
        page.index('id="findings-table"') : page.index('<section id="windows">')
    ]
    assert table.count("<tr class=") == 2
    assert "Showing 2 of 5" in page


def test_page_lists_inputs(march_page: str) -> None:
    inputs = march_page[march_page.index('<section id="inputs">') :]
    assert "logs/calls.jsonl" in inputs
    assert "a" * 64 in inputs


def test_page_without_findings(
    empty_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = write_report(empty_world, tmp_path / "report")
    page = result.html.read_text(encoding="utf-8")
    assert "<svg" not in page
    assert page.count("No data in this period.") == 4
    assert "The workspace has no load log." in page


@pytest.mark.parametrize(
    ("svg", "expected"),
    [
        ("<svg><script>x()</script></svg>", "element <script>"),
        ('<svg><foreignObject width="1"/></svg>', "element <foreignObject>"),
        ('<svg><a xlink:href="http://x"/></svg>', "element <a>"),
        ('<svg><g xlink:href="#x"/></svg>', "attribute 'xlink:href' on <g>"),
        ('<svg><rect ONCLICK="x()"/></svg>', "attribute 'ONCLICK' on <rect>"),
        ("<svg><g x=unquoted></g></svg>", "a tag that could not be parsed"),
    ],
)
def test_unsafe_svg_markup_rejects(svg: str, expected: str) -> None:
    assert unsafe_svg_markup(svg) == expected


def test_unsafe_svg_markup_accepts_escaped_text() -> None:
    svg = '<svg><path aria-label="a: &lt;img onerror=x&gt;" d="M0,0"/></svg>'
    assert unsafe_svg_markup(svg) is None
