from hypothesis import given, settings
from hypothesis import strategies as st

from geo.names import best_fuzzy, fold, loose_key, normalize_name, parse_name, split_prefix, tone_key


def test_accents_and_case_are_dropped():
    assert normalize_name("Tháp Mười") == "thap muoi"
    assert normalize_name("THÁP MƯỜI") == "thap muoi"
    assert normalize_name("  Tháp   Mười ") == "thap muoi"


def test_misspelt_names_match_after_folding():
    assert normalize_name("Tháp Muời") == normalize_name("Tháp Mười")
    assert normalize_name("Tân Phuớc") == normalize_name("Tân Phước")


def test_eth_lookalike_is_d():
    assert normalize_name("Sa Ðéc") == normalize_name("Sa Đéc") == "sa dec"  # U+00D0 vs U+0110
    assert normalize_name("Gò Công Ðông") == "go cong dong"
    assert normalize_name("ðồng tháp") == "dong thap"  # U+00F0
    assert tone_key("Sa Ðéc") == tone_key("Sa Đéc")


def test_unaccented_input():
    assert normalize_name("xa My Hiep") == normalize_name("Xã Mỹ Hiệp") == "my hiep"


def test_prefixes_are_dropped():
    for text in ["Xã Mỹ Hiệp", "xã Mỹ Hiệp", "X. Mỹ Hiệp", "Mỹ Hiệp"]:
        assert normalize_name(text) == "my hiep"
    for text in ["Huyện Cao Lãnh", "H. Cao Lãnh", "TP. Cao Lãnh", "Thành phố Cao Lãnh", "T.P Cao Lãnh", "tp cao lanh"]:
        assert normalize_name(text) == "cao lanh"
    assert normalize_name("Thị xã Gò Công") == normalize_name("TX. Gò Công") == "go cong"
    assert normalize_name("Thị trấn Mỹ Thọ") == normalize_name("TT. Mỹ Thọ") == "my tho"
    assert normalize_name("Tỉnh Đồng Tháp") == "dong thap"
    assert normalize_name("Quận Ninh Kiều") == normalize_name("Q. Ninh Kiều") == "ninh kieu"
    assert split_prefix("Phường Mỹ Tho") == ("phuong", "my tho")
    assert split_prefix("Mỹ Tho") == (None, "my tho")


def test_numbered_wards_keep_a_canonical_prefix():
    for text in ["P.1", "P1", "p 1", "Phường 1", "Phường 01", "phuong 1", "F1"]:
        assert normalize_name(text) == "phuong 1", text
    assert normalize_name("Q.1") == normalize_name("Quận 1") == "quan 1"
    assert normalize_name("Xã Tân Phước 1") == "tan phuoc 1"


def test_name_words_that_look_like_prefixes_are_kept():
    # "Phương" (a name) is not "Phường" (a prefix); "Tịnh" is not "Tỉnh".
    assert normalize_name("Xã Phương Thịnh") == "phuong thinh"
    assert normalize_name("Phương Thịnh") == "phuong thinh"
    assert normalize_name("Mỹ Tịnh An") == "my tinh an"
    # Unaccented, both readings are remembered for the matcher.
    parsed = parse_name("phuong thinh")
    assert parsed.kind == "phuong" and parsed.unprefixed == "phuong thinh"
    assert normalize_name("U Minh") == "u minh"


def test_prefix_alone_is_a_name():
    assert normalize_name("Xã") == "xa"
    assert normalize_name("") == ""
    assert normalize_name(None) == ""


def test_tone_key_separates_tones_but_not_tone_placement():
    assert normalize_name("Tân Thành") == normalize_name("Tân Thạnh")
    assert tone_key("Tân Thành") != tone_key("Tân Thạnh")
    assert tone_key("Thanh Hoà") == tone_key("Thanh Hòa")


def test_loose_key_reads_y_as_i():
    assert loose_key(normalize_name("Mỹ Quý")) == loose_key(normalize_name("Mỹ Quí"))


def test_best_fuzzy_only_when_unambiguous():
    choices = ["my hiep", "my hoi", "thap muoi", "tan thanh", "tan thuan"]
    assert best_fuzzy("thap muoii", choices) == "thap muoi"
    assert best_fuzzy("my hiepp", choices) == "my hiep"
    assert best_fuzzy("tan th", choices) is None  # as close to two places
    assert best_fuzzy("abc", choices) is None  # too short to guess
    assert best_fuzzy("completely different", choices) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_normalize_never_raises(text):
    key = normalize_name(text)
    assert isinstance(key, str)
    assert key == key.strip() and "  " not in key
    assert isinstance(fold(text), str)
    assert isinstance(tone_key(text), str)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=20)))
def test_normalize_accepts_non_text(value):
    assert isinstance(normalize_name(value), str)
