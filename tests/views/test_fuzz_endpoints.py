"""Random query strings on the JSON endpoints of the read model never make a 500 (the map's
own endpoints: tests/views/test_mapdata.py::test_no_query_string_makes_a_500)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_read_model import NOW, health, snapshot, views  # noqa: F401 (fixtures)

from ioc.views import publish

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_keys = st.sampled_from(["lang", "focus", "have", "p", "what", "metric", "start", "end", "x", "page"])
_have = st.lists(st.tuples(st.sampled_from(["tiles", "alerts", "map", "focus", "badges", "nope", ""]), _text),
                 max_size=6).map(lambda xs: ",".join(f"{a}:{b}" for a, b in xs))


def test_random_query_strings_never_make_a_500(views, sqlite_url):  # noqa: F811
    from ioc.web.app import create_app

    publish.publish(views.store, snapshot(), NOW)
    from ioc.auth.testing import signed_in_client

    # signed in: an anonymous request stops at the guard and would fuzz nothing behind it
    client = signed_in_client(create_app(views.settings.model_copy(update={"database_url": sqlite_url}),
                                         read_model=views), "admin")
    seen: dict[str, set] = {}

    @given(st.sampled_from(["/api/views/wall", "/api/views/versions", "/m/parts", "/api/geo/communes.geojson",
                            "/api/ping"]),
           st.dictionaries(_keys, _text | _have, max_size=5))
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def run(path, params):
        res = client.get(path, query_string=params)
        assert res.status_code < 500, (path, params, res.data[:300])
        seen.setdefault(path, set()).add(res.status_code)

    run()
    assert set(seen) == {"/api/views/wall", "/api/views/versions", "/m/parts", "/api/geo/communes.geojson",
                         "/api/ping"}
    assert all(200 in codes for codes in seen.values()), seen  # the endpoints answered, not only refused
