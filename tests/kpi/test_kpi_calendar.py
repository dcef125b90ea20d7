"""Vietnam working days."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.kpi.calendar import WorkCalendar, add_working_days, is_working_day, working_days_between

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_tet_and_weekends():
    assert not is_working_day(date(2025, 1, 29))  # Tết (mùng 1)
    assert not is_working_day(date(2025, 1, 27))  # 29 tháng Chạp (day off)
    assert is_working_day(date(2025, 1, 24))  # Friday before Tết
    assert not is_working_day(date(2025, 3, 1))  # Saturday
    assert not is_working_day(date(2025, 9, 2))  # National Day
    assert not is_working_day(date(2025, 5, 2))  # compensatory day off
    assert is_working_day(date(2025, 4, 26))  # Saturday worked in exchange


def test_datetime_uses_local_date():
    # 2025-03-02 (Sunday) 18:00 UTC is Monday 01:00 in Vietnam
    assert is_working_day(datetime(2025, 3, 2, 18, 0, tzinfo=timezone.utc))
    assert not is_working_day(datetime(2025, 3, 2, 18, 0, tzinfo=timezone.utc), tz="UTC")
    with pytest.raises(ValueError, match="naive"):
        is_working_day(datetime(2025, 3, 2, 18, 0))


def test_add_working_days_over_tet():
    start = datetime(2025, 1, 24, 10, 0, tzinfo=VN)  # Friday
    # Jan 25–26 weekend, Jan 27–Feb 1 Tết, Feb 2 Sunday → Monday Feb 3
    assert add_working_days(start, 1) == datetime(2025, 2, 3, 10, 0, tzinfo=VN)


def test_fifteen_working_days_over_30_4():
    start = datetime(2025, 4, 21, 9, 0, tzinfo=VN)  # Monday
    # 22,23,24,25, 26 (Sat worked), 28, 29, [30/4, 1/5, 2/5 off], 5,6,7,8,9, 12,13,14 → 15th = May 14
    assert add_working_days(start, 15) == datetime(2025, 5, 14, 9, 0, tzinfo=VN)
    assert working_days_between(start, datetime(2025, 5, 14, 9, 0, tzinfo=VN)) == 15


def test_start_on_day_off_counts_from_next_working_day():
    sat = datetime(2025, 3, 1, 10, 0, tzinfo=VN)
    assert add_working_days(sat, 1) == datetime(2025, 3, 4, 0, 0, tzinfo=VN)
    assert add_working_days(sat, 0) == datetime(2025, 3, 3, 0, 0, tzinfo=VN)


def test_result_keeps_input_zone():
    start = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)  # Monday 09:00 local
    out = add_working_days(start, 1)
    assert out.tzinfo == timezone.utc and out == datetime(2025, 3, 4, 2, 0, tzinfo=timezone.utc)


def test_dates_and_errors():
    assert add_working_days(date(2025, 1, 24), 1) == date(2025, 2, 3)
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 24), -1)
    with pytest.raises(TypeError):
        add_working_days(date(2025, 1, 24), 1.5)
    assert working_days_between(date(2025, 2, 3), date(2025, 1, 24)) == -1


def test_local_overrides():
    cal = WorkCalendar(extra_holidays=[date(2025, 3, 3)], extra_working_days=[date(2025, 3, 1)])
    assert not cal.is_working_day(date(2025, 3, 3))
    assert cal.is_working_day(date(2025, 3, 1))


@settings(deadline=None)
@given(
    d=st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    n=st.integers(0, 40),
)
def test_add_then_count_round_trip(d, n):
    start = datetime(d.year, d.month, d.day, 9, 30, tzinfo=VN)
    end = add_working_days(start, n)
    assert is_working_day(end)
    assert end >= start
    if is_working_day(start):
        assert working_days_between(start, end) == n
        assert end.timetz() == start.timetz()  # same local clock time
    assert end - start <= timedelta(days=3 * n + 14)
