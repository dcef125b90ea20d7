"""Daily and weekly PDF briefings (docs/briefings.md): built from the read model
(``ioc.views.briefing``), rendered with WeasyPrint, checked after rendering, stored with a
SQL record, listed at /briefings."""
