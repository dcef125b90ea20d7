import random

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from geo.names import fold
from geo.units import UnitMatcher, all_units, commune_codes, old_province_of_commune, sync_units
from ioc.db.models import AdminUnit


def test_units_counts_and_codes():
    units = all_units()
    levels = [u.level for u in units]
    assert levels.count("province") == 1
    assert levels.count("commune") == 102
    assert levels.count("district_pre2025") == 23
    codes = [u.code for u in units]
    assert len(set(codes)) == len(codes) == 126
    province = units[0]
    assert (province.code, province.name) == ("82", "Đồng Tháp")
    assert all(u.parent_code == "82" for u in units if u.level == "commune")
    assert len(commune_codes()) == 102


def test_old_districts_have_correct_names_and_parents():
    olds = {u.code: u for u in all_units() if u.level == "district_pre2025"}
    dt = sorted(u.name for u in olds.values() if u.parent_code == "Đồng Tháp")
    tg = sorted(u.name for u in olds.values() if u.parent_code == "Tiền Giang")
    assert len(dt) == 12 and len(tg) == 11
    assert "Huyện Tháp Mười" in dt and "Thành phố Sa Đéc" in dt and "Thành phố Hồng Ngự" in dt
    assert "Huyện Tân Phú Đông" in tg and "Thị xã Cai Lậy" in tg and "Thành phố Mỹ Tho" in tg
    assert all(u.valid_to == "2025-06-30" for u in olds.values())
    chau_thanh = [u for u in olds.values() if u.norm_name == "chau thanh"]
    assert {u.parent_code for u in chau_thanh} == {"Đồng Tháp", "Tiền Giang"}
    assert len({u.code for u in chau_thanh}) == 2


def test_old_province_of_commune():
    assert old_province_of_commune("30112") == "Đồng Tháp"  # Mỹ Hiệp
    assert old_province_of_commune(28261) == "Tiền Giang"  # Mỹ Tho
    assert old_province_of_commune("abc") is None


def test_sync_units_is_idempotent(session):
    first = sync_units(session)
    assert (first.inserted, first.updated, first.unchanged) == (126, 0, 0)
    second = sync_units(session)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 126)
    assert session.scalar(select(func.count()).select_from(AdminUnit)) == 126
    assert session.scalar(select(func.count()).where(AdminUnit.level == "commune")) == 102
    row = session.get(AdminUnit, "old-d:872")
    assert (row.name, row.norm_name, row.level) == ("Huyện Tháp Mười", "thap muoi", "district_pre2025")
    # A changed row is put back.
    row.name = "wrong"
    session.commit()
    third = sync_units(session)
    assert (third.updated, third.unchanged) == (1, 125)


def test_matcher_from_session_equals_default(session, matcher):
    sync_units(session)
    from_db = UnitMatcher.from_session(session)
    for text in ["xã Mỹ Hiệp", "huyện Châu Thành, Tiền Giang", "Phường Mỹ Tho"]:
        assert from_db.match(text) == matcher.match(text)


def test_address_names_current_commune(matcher):
    r = matcher.match("Ấp 3, xã Mỹ Hiệp, huyện Cao Lãnh, tỉnh Đồng Tháp")
    assert (r.commune_code, r.district_code, r.method) == ("30112", "old-d:873", "address_commune")
    assert r.matched == "xã Mỹ Hiệp"
    r = matcher.match("Phường Mỹ Tho, tỉnh Đồng Tháp")
    assert (r.commune_code, r.method) == ("28261", "address_commune")


def test_unaccented_and_comma_less_addresses(matcher):
    assert matcher.match("xa My Hiep").commune_code == "30112"
    assert matcher.match("ap 3, xa my hiep, huyen cao lanh, dong thap").commune_code == "30112"
    assert matcher.match("Ấp 3 xã Mỹ Hiệp huyện Cao Lãnh tỉnh Đồng Tháp").commune_code == "30112"
    r = matcher.match("to 5 khom 2 xa my hiep huyen cao lanh")
    assert (r.commune_code, r.district_code) == ("30112", "old-d:873")


def test_address_naming_only_an_old_district(matcher):
    r = matcher.match("Phường 1, TP Cao Lãnh, Đồng Tháp")  # old numbered ward: no current commune
    assert (r.commune_code, r.district_code, r.method) == (None, "old-d:866", "address_district")
    assert matcher.match("huyện Cao Lãnh").district_code == "old-d:873"
    assert matcher.match("H. Tháp Muời").district_code == "old-d:872"  # misspelt
    assert matcher.match("TX. Cai Lậy, Tiền Giang").district_code == "old-d:817"
    assert matcher.match("huyện Cai Lậy, Tiền Giang").district_code == "old-d:820"


def test_chau_thanh_disambiguation(matcher):
    assert matcher.match("huyện Châu Thành, tỉnh Tiền Giang").district_code == "old-d:821"
    assert matcher.match("Huyen Chau Thanh, Dong Thap").district_code == "old-d:877"
    unsure = matcher.match("huyện Châu Thành")
    assert unsure.method == "none" and unsure.district_code is None
    assert set(unsure.ambiguous) == {"old-d:877", "old-d:821"}
    # The commune's own old province settles it.
    r = matcher.match("xã Tân Nhuận Đông, huyện Châu Thành")
    assert (r.commune_code, r.district_code) == ("30253", "old-d:877")
    r = matcher.match("xã Long Hưng, huyện Châu Thành")
    assert (r.commune_code, r.district_code) == ("28537", "old-d:821")


def test_same_folded_name_different_units(matcher):
    # Phường Mỹ Tho (old Tiền Giang) vs Xã Mỹ Thọ (old Đồng Tháp).
    assert matcher.match("Phường Mỹ Tho").commune_code == "28261"
    assert matcher.match("xã Mỹ Thọ").commune_code == "30076"
    assert matcher.match("xa My Tho").commune_code == "30076"
    assert matcher.match("thi tran my tho, huyen cao lanh").commune_code == "30076"
    # Tân Thành vs Tân Thạnh: tones decide; without them it is ambiguous, not a guess.
    assert matcher.match("xã Tân Thành").commune_code == "29938"
    assert matcher.match("xã Tân Thạnh").commune_code == "30157"
    unsure = matcher.match("xa Tan Thanh")
    assert unsure.commune_code is None and set(unsure.ambiguous) >= {"29938", "30157"}


def test_old_format_address_in_tien_giang(matcher):
    r = matcher.match("Mỹ Tho, Tiền Giang")
    assert (r.commune_code, r.district_code, r.method) == (None, "old-d:815", "address_district")


def test_fuzzy_and_variants(matcher):
    assert matcher.match("xã Mỹ Hiêp").commune_code == "30112"
    assert matcher.match("xã Mỹ Quý").commune_code == "30055"  # spelt Mỹ Quí officially
    assert matcher.match("xa Doc Binh Kieuu").commune_code == "30061"  # fuzzy, unambiguous
    assert matcher.match("Sa Ðéc").commune_code == "29905"


def test_other_province_and_junk(matcher):
    r = matcher.match("xã Mỹ Hiệp, huyện Chợ Mới, tỉnh An Giang")
    assert r.method == "none" and r.other_province
    assert matcher.match("12 Tỉnh lộ 848, xã Tân Dương").commune_code == "30214"  # "tỉnh lộ" is a road
    for junk in ["", "   ", ",,,", "số 12", "Hà Nội", None, 12345]:
        assert matcher.match(junk).method == "none"


def test_match_many(matcher):
    df = matcher.match_many(["xã Mỹ Hiệp", None, "huyện Tháp Mười", "xã Mỹ Hiệp", ""])
    assert list(df.columns) == ["commune_code", "district_code", "method", "matched"]
    assert list(df.method) == ["address_commune", "none", "address_district", "address_commune", "none"]


def test_many_addresses_are_matched_once_each(monkeypatch):
    """Counts, not seconds (bench/geo.py prints the speed): each distinct text is resolved
    once however often it appears."""
    units = all_units()
    communes = [u.name for u in units if u.level == "commune"]
    districts = [u.name for u in units if u.level == "district_pre2025"]
    rng = random.Random(7)
    addrs = []
    for _ in range(20_000):
        a = f"Số {rng.randint(1, 999)} đường {rng.randint(1, 300)}, ấp {rng.randint(1, 9)}, " \
            f"{rng.choice(communes)}, {rng.choice(districts)}, tỉnh Đồng Tháp"
        addrs.append(fold(a) if rng.random() < 0.3 else a)
    addrs += addrs[:5_000]  # repeats, as a page of tickets from one commune has
    fresh = UnitMatcher(units)
    resolved = []
    match = fresh._match
    monkeypatch.setattr(fresh, "_match", lambda text: resolved.append(text) or match(text))
    df = fresh.match_many(addrs)
    assert len(df) == 25_000
    assert (df.method == "address_commune").mean() > 0.97
    assert len(resolved) == len(set(resolved)) == len(set(addrs))


_fragments = st.sampled_from([
    "xã", "Xã", "phường", "P.", "huyện", "H.", "TP.", "tỉnh", "Đồng Tháp", "Tiền Giang", "Mỹ Hiệp", "Mỹ Tho",
    "Châu Thành", "Cao Lãnh", "Sa Ðéc", "ấp 3", ",", " ", "-", "1", "01", "An Giang", "Tân Thạnh", "\n", "/",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(_fragments, max_size=12).map(" ".join)))
def test_matcher_never_raises(matcher, text):
    r = matcher.match(text)
    assert r.method in {"address_commune", "address_district", "none"}
    if r.method == "address_commune":
        assert r.commune_code in matcher.commune_codes
    if r.district_code is not None:
        assert r.district_code in matcher.district_codes
