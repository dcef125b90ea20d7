"""QĐ 766 indicators."""

from datetime import datetime, timezone

import pandas as pd
import pytest

from ioc.kpi import qd766

T = lambda s: None if s is None else pd.Timestamp(s, tz="UTC")  # noqa: E731
START, END = datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 4, 1, tzinfo=timezone.utc)

COLS = ["id", "procedure_code", "agency", "commune_code", "channel", "received_at", "due_at", "finished_at",
        "supplement_requests", "supplement_wait_hours", "paid_online", "electronic_result", "digitised",
        "data_reused", "satisfaction", "complaint"]


def dossiers():
    rows = [
        ("D1", "P1", "Sở TP", "A", 2, T("2025-03-01"), T("2025-03-10"), T("2025-03-09"), 0, 0, True, True, True,
         False, 5, False),
        # finished 2 days after due but waited 72 h for supplements → effective due 13 March → on time
        ("D2", "P2", "Sở TP", "A", 1, T("2025-03-01"), T("2025-03-10"), T("2025-03-12"), 1, 72, None, None, False,
         True, 2, False),
        # two supplement requests → late although finished before due
        ("D3", "P1", "UBND", "B", None, T("2025-03-02"), T("2025-03-10"), T("2025-03-09"), 2, 0, False, False,
         False, False, None, True),
        # unfinished, past due at as_of → late
        ("D4", "X", "UBND", None, 3, T("2025-03-05"), T("2025-03-20"), None, 0, 0, None, None, None, None, None,
         None),
        # unfinished, not yet due
        ("D5", "P1", "UBND", "B", 2, T("2025-03-25"), T("2025-04-10"), None, 0, 0, None, None, None, None, None,
         None),
        # received in February, finished in March on time
        ("D6", "P2", "Sở TP", "A", 2, T("2025-02-20"), T("2025-03-05"), T("2025-03-04"), 0, 0, None, False, True,
         False, None, None),
        # no due date → not judged for 2.1
        ("D7", "P2", "Sở TP", "A", 1, T("2025-03-03"), None, T("2025-03-05"), 0, 0, None, False, None, None, 4,
         False),
    ]
    return pd.DataFrame(rows, columns=COLS)


def procedures():
    return pd.DataFrame({"code": ["P1", "P2"], "has_fee": [True, False]})


def test_indicators_worked_example():
    r = qd766.indicators(dossiers(), procedures(), START, END)
    ind = r["indicators"]
    assert r["counts"] == {"received": 6, "finished": 5, "overdue_unfinished": 1}
    # 2.1 (portal rule): finished D1 ✓, D2 ✓ (wait excluded), D3 ✗ (2 supplements), D6 ✓;
    # in progress at the period's end: D4 past due ✗, D5 not yet due ✓ → 4/6
    assert ind["2.1"]["numerator"] == 4 and ind["2.1"]["denominator"] == 6
    assert ind["2.1"]["value"] == pytest.approx(66.67)
    assert ind["2.1"]["in_progress_on_time"] == 1 and ind["2.1"]["overdue_unfinished"] == 1
    assert ind["2.1"]["no_due"] == 1 and ind["2.1"]["late_finished"] == 1
    # 20 points, linear: 20 × 0.6667
    assert ind["2.1"]["max_points"] == 20 and ind["2.1"]["threshold_pct"] is None
    assert ind["2.1"]["score"] == pytest.approx(13.334)  # of the rounded 66.67 %
    # 2.2: D1 8 d, D2 11 d − 3 d wait = 8, D3 7, D6 12, D7 2 → 37/5 = 7.4 days; shown, not scored
    assert ind["2.2"]["value"] == 7.4 and ind["2.2"]["median"] == 8.0 and "score" not in ind["2.2"]
    # 3.3: D1, D5 online of 6 received; 6 points against a 50 % threshold
    assert ind["3.3"]["value"] == pytest.approx(33.33)
    assert ind["3.3"]["post"] == 1 and ind["3.3"]["in_person"] == 3
    assert ind["3.3"]["score"] == pytest.approx(6 * 33.33 / 50, abs=1e-3)
    # 3.6: fee-bearing received D1, D3, D5 → paid online D1 → 1/3; 6 points linear
    assert ind["3.6"]["value"] == pytest.approx(33.33) and ind["3.6"]["unknown"] == 1
    assert ind["3.6"]["unknown_procedure"] == 1
    assert ind["3.6"]["score"] == pytest.approx(6 * 0.3333, abs=1e-3)
    # 4.1: electronic result among finished (D1, D2, D3, D6, D7) → D1 → 20 %; 6 points linear
    assert ind["4.1"]["value"] == 20.0 and ind["4.1"]["score"] == pytest.approx(1.2)
    # 4.2 digitised D1 of 6 received (4 points linear); 4.3 re-used D2 of 6 (2 points, threshold 80 %)
    assert ind["4.2"]["value"] == pytest.approx(16.67) and ind["4.2"]["score"] == pytest.approx(4 * 0.1667, abs=1e-3)
    assert ind["4.3"]["value"] == pytest.approx(16.67) and ind["4.3"]["score"] == pytest.approx(2 * 16.67 / 80, abs=1e-3)
    # 5.4: overdue rate 33.33 % + unhappy (D2 satisfaction 2, D3 complaint) 2/5 = 40 % → 26.67; threshold 90 %
    assert ind["5.4"]["value"] == pytest.approx(26.67)
    assert ind["5.4"]["score"] == pytest.approx(6 * 26.67 / 90, abs=1e-3)
    # the scored indicators' points: 20 + 6 + 6 + 6 + 4 + 2 + 6
    assert r["max_score"] == 50
    assert r["score"] == pytest.approx(sum(v["score"] for k, v in ind.items() if k != "2.2"), abs=1e-3)


def test_in_progress_dossiers_judged_at_as_of():
    """Earlier in the period (as_of 12 March): D4 (due 20 March) is in progress and on time;
    D5 (received 25 March) does not exist yet."""
    r = qd766.indicators(dossiers(), procedures(), START, END, as_of=datetime(2025, 3, 12, tzinfo=timezone.utc))
    ind = r["indicators"]["2.1"]
    # finished by 12 March: D1 ✓, D2 ✓ (at 00:00, due 10th + 72 h wait), D3 ✗ (2 supplements), D6 ✓,
    # D7 (no due) → judged 4, on time 3; in progress with a due time: D4 only
    assert ind["in_progress_on_time"] == 1 and ind["overdue_unfinished"] == 0
    assert (ind["numerator"], ind["denominator"]) == (4, 5)


def test_score_rule():
    # with a threshold: max × min(1, rate ÷ threshold)
    assert qd766.score(50, 6, 50) == 6
    assert qd766.score(80, 6, 50) == 6
    assert qd766.score(25, 6, 50) == 3
    # linear: max × rate
    assert qd766.score(96.8, 20, None) == pytest.approx(19.36)
    assert qd766.score(100, 20, None) == 20
    assert qd766.score(-5, 20, None) == 0
    assert qd766.score(None, 4, 50) is None
    assert qd766.score(50, None, None) is None
    with pytest.raises(ValueError):
        qd766.score(10, 4, 0)


def test_points_as_the_portal_scores_them():
    """DOMAIN.md's table: the eight indicators a dossier feed supports."""
    got = {c: (i.max_points, i.threshold_pct) for c, i in qd766.INDICATORS.items()}
    assert got == {"2.1": (20, None), "2.2": (None, None), "3.3": (6, 50), "3.6": (6, None), "4.1": (6, None),
                   "4.2": (4, None), "4.3": (2, 80), "5.4": (6, 90)}


def test_published_quang_tri_progress_score():
    """Quảng Trị 7/2025: 19.35 / 20 on progress ≈ 96.8 % of dossiers on time (DOMAIN.md)."""
    counts = {"finished": 990, "judged": 990, "on_time": 958, "open_on_time": 10, "overdue_unfinished": 0}
    ind = qd766.from_counts(counts)["indicators"]["2.1"]
    assert ind["value"] == 96.8  # (958 + 10) ÷ (990 + 10)
    assert ind["score"] == pytest.approx(19.36)


def test_report_groups():
    rep = qd766.report(dossiers(), procedures(), START, END)
    assert set(rep) == {"province", "agency", "commune_code"}
    assert rep["agency"]["UBND"]["counts"]["received"] == 3
    assert rep["commune_code"]["unknown"]["counts"]["received"] == 1


def test_empty_gives_none():
    r = qd766.indicators(dossiers().iloc[0:0], None, START, END)
    for code, entry in r["indicators"].items():
        assert entry["value"] is None, code
    assert r["score"] is None


def test_missing_columns_named():
    with pytest.raises(ValueError, match="due_at"):
        qd766.indicators(dossiers().drop(columns=["due_at"]), None, START, END)
