from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.safety import (
    CLEANING_TRIGGER,
    REDACTION_MARK,
    clean_text,
    escape_html,
    neutralize_csv_cell,
    redact_secrets,
    strip_terminal_controls,
)


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://a/")'],
)
def test_neutralize_csv_cell_prefixes_formula(cell: str) -> None:
    assert neutralize_csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["crm:accounts", "", "a=1", " =1", "'=1", "1-2"])
def test_neutralize_csv_cell_keeps_plain_text(cell: str) -> None:
    assert neutralize_csv_cell(cell) == cell


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Authorization: Bearer abcdefghijkl",
            "Authorization: Bearer abcd" + REDACTION_MARK,
        ),
        (
            "authorization=Basic dXNlcjpwYXNz",
            "authorization=Basic dXNl" + REDACTION_MARK,
        ),
        ("sent bearer 0123456789abcdef", "sent bearer 0123" + REDACTION_MARK),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl end",
            "jwt eyJh" + REDACTION_MARK + " end",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "AKIA" + REDACTION_MARK),
        ("ASIAY34FZKBOKMUTVV7A,", "ASIA" + REDACTION_MARK + ","),
        ("key sk-proj-abcdefghijklmnop1234", "key sk-p" + REDACTION_MARK),
        ("?password=hunter22&x=1", "?password=hunt" + REDACTION_MARK + "&x=1"),
        ("secret: abc", "secret: a" + REDACTION_MARK),
        ('{"token": "tok_9f8e7d6c5b"}', '{"token": "tok_' + REDACTION_MARK + '"}'),
        ("API_KEY=zzzzzzzz", "API_KEY=zzzz" + REDACTION_MARK),
        # After an underscore or a hyphen, inside a longer name.
        (
            "tool_sk-live-A1b2C3d4E5f6G7h8I9j0",
            "tool_sk-l" + REDACTION_MARK,
        ),
        ("DB_PASSWORD=hunter22", "DB_PASSWORD=hunt" + REDACTION_MARK),
        ("user_token=abcdefgh1234", "user_token=abcd" + REDACTION_MARK),
        ("key_AKIAIOSFODNN7EXAMPLE", "key_AKIA" + REDACTION_MARK),
        (
            "x-authorization: Basic dXNlcjpwYXNz",
            "x-authorization: Basic dXNl" + REDACTION_MARK,
        ),
    ],
)
def test_redact_secrets_shortens_credentials(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "crm:accounts/42",
        "token_id=t-1",
        "skill-set",
        "ASIA",
        "mail.send",
        "eyJ",
        "task-management-service-x",
        "disk-encryption-settings01",
        "tokens: 5",
    ],
)
def test_redact_secrets_keeps_ordinary_text(text: str) -> None:
    assert redact_secrets(text) == text


def test_redact_secrets_is_idempotent() -> None:
    once = redact_secrets("Authorization: Bearer abcdefghijkl token=qwertyuiop")
    assert redact_secrets(once) == once


def test_redact_secrets_never_keeps_whole_short_value() -> None:
    assert "ab" not in redact_secrets("pwd=ab").split("=")[1]


def test_escape_html_escapes_markup() -> None:
    escaped = escape_html("<script>alert('x')</script> & \"")
    assert escaped == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x1b[31mred\x1b[0m", "ared"),
        ("x\x1b]0;title\x07y", "xy"),
        ("x\x1b]8;;http://a\x1b\\link\x1b]8;;\x1b\\y", "xlinky"),
        ("keep\nnew\tlines", "keep\nnew\tlines"),
        ("bell\x07back\x08del\x7fc1\x9bend", "bellbackdelc1end"),
        ("cr\rnul\x00", "crnul"),
    ],
)
def test_strip_terminal_controls(text: str, expected: str) -> None:
    assert strip_terminal_controls(text) == expected


def test_clean_text_strips_then_redacts() -> None:
    assert clean_text("\x1b[1mAKIAIOSFODNN7EXAMPLE") == "AKIA" + REDACTION_MARK


@given(
    text=st.text(
        alphabet=st.sampled_from(
            [
                *"abceiknoprstwyAIJKS-=:/ _\"'",
                *"\x1b\x00\x85\t\né\u0130\u0131",
            ]
        ),
        max_size=40,
    )
)
@settings(max_examples=400, deadline=None)
def test_trigger_covers_every_cleaning(text: str) -> None:
    flagged = pc.match_substring_regex(pa.array([text]), CLEANING_TRIGGER)[0].as_py()
    if not flagged:
        assert clean_text(text) == text


@pytest.mark.parametrize(
    "secret",
    [
        "Authorization: Bearer abcdefghijkl",
        "password=hunter2",
        "eyJhbGciOi.eyJzdWIi.sig",
        "AKIAIOSFODNN7EXAMPLE",
        "sk-abcdefghijklmnopqrstuv",
        "x\x1b[2Jy",
    ],
)
def test_trigger_flags_known_secrets(secret: str) -> None:
    flagged = pc.match_substring_regex(pa.array([secret]), CLEANING_TRIGGER)[0]
    assert flagged.as_py()
