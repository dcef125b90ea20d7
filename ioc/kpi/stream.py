"""Following a source's Redis change stream (``ioc:{source}:events``)."""

from __future__ import annotations


class StreamFollower:
    """Entity ids changed since the last read of a source's ``events`` stream (the
    connectors' change feed, at-least-once). ``changes()`` returns None when the caller
    must reload from SQL instead: never marked, Redis unavailable, the stream trimmed
    past the last id read, or more than ``max_batch`` changes waiting."""

    def __init__(self, store, source: str, max_batch: int = 5_000) -> None:
        self.store = store
        self.source = source
        self.max_batch = max_batch
        self.last: str | None = None

    def _key(self) -> str:
        return self.store.key("events", self.source)

    def mark(self) -> None:
        """Remember the stream's newest id; call just before a full load from SQL."""
        self.last = None
        if self.store is None:
            return
        try:
            top = self.store.r.xrevrange(self._key(), count=1)
        except Exception:
            return
        self.last = top[0][0].decode() if top else "0-0"

    @staticmethod
    def _id(v: str) -> tuple[int, int]:
        a, _, b = v.partition("-")
        return int(a), int(b or 0)

    def changes(self) -> list[str] | None:
        if self.store is None or self.last is None:
            return None
        try:
            r = self.store.r
            first = r.xrange(self._key(), count=1)
            if first and self.last != "0-0" and self._id(first[0][0].decode()) > self._id(self.last):
                self.last = None
                return None  # trimmed past us: entries were lost
            entries = r.xrange(self._key(), min=f"({self.last}", count=self.max_batch + 1)
        except Exception:
            self.last = None
            return None
        if len(entries) > self.max_batch:
            self.last = None
            return None
        if entries:
            self.last = entries[-1][0].decode()
        return [f[b"id"].decode() for _, f in entries if b"id" in f]
