import pytest

from stickyguard.audit import clock


@pytest.mark.parametrize(
    "seconds,text",
    [(None, "session"), (1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (5400, "1.5 hours"),
     (86400, "1 day"), (400 * 86400, "400 days"), (315360000, "10 years")],
)
def test_human_duration(seconds, text):
    assert clock.human_duration(seconds) == text


def test_now_and_generated_at_honour_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735725600")
    assert clock.now() == 1735725600.0
    assert clock.generated_at() == "2025-01-01T10:00:00Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert clock.now() > 1735725600


def test_utc_iso_round_trips():
    assert clock.utc_iso(1735725600.25, "milliseconds") == "2025-01-01T10:00:00.250Z"
    assert clock.parse_utc_iso("2025-01-01T10:00:00.250Z") == 1735725600.25
    with pytest.raises(ValueError):
        clock.parse_utc_iso("yesterday")
