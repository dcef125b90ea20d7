"""The read model: every page, export and briefing reads the product's state through here.

* ``facts``   — snapshot → small language-neutral facts per panel (pure);
* ``publish`` — the KPI scheduler writes those facts under one Redis key each, with digests;
* ``read``    — ``ReadModel``: typed, localised views with their freshness (docs/views.md);
* ``text``    — the sentences, formats and traffic lights of those views (pure);
* ``geo``     — commune names, outlines and label points from the imported boundaries;
* ``models``  — the typed views.
"""
