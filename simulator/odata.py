"""The OData-style query language of SensorThings v1.1: $filter expressions, $orderby, $expand.

``parse_filter`` builds a small tree; ``evaluate`` runs it either on one entity (Python values)
or on columns of many observations at once (numpy arrays): the same operators work on both.
Datetime literals become ``TimeLit`` (epoch seconds); time properties are compared as epoch
seconds too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np


class QueryError(ValueError):
    pass


class TimeLit(float):
    """A datetime literal, as epoch seconds."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))|
    (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])|
    (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|
    (?P<str>'(?:[^']|'')*')|
    (?P<punct>[(),])|
    (?P<name>[A-Za-z_@$][A-Za-z0-9_@.$]*(?:/[A-Za-z_@$][A-Za-z0-9_@.$]*)*)
    )""",
    re.VERBOSE,
)
CMP = {"eq", "ne", "gt", "ge", "lt", "le"}
ARITH_ADD = {"add", "sub"}
ARITH_MUL = {"mul", "div", "mod"}
FUNCS = {"substringof", "startswith", "endswith", "contains", "tolower", "toupper", "length", "trim",
         "indexof", "concat", "year", "month", "day", "hour", "minute", "second", "round", "floor", "ceiling"}


def parse_datetime(text: str) -> TimeLit:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"invalid datetime {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return TimeLit(dt.timestamp())


def tokenize(text: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot parse $filter near {text[pos:pos + 25]!r}")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "dt":
            out.append(("lit", parse_datetime(val)))
        elif kind == "date":
            out.append(("lit", parse_datetime(val + "T00:00:00Z")))
        elif kind == "num":
            out.append(("lit", float(val) if any(c in val for c in ".eE") else int(val)))
        elif kind == "str":
            out.append(("lit", val[1:-1].replace("''", "'")))
        elif kind == "punct":
            out.append((val, val))
        else:
            low = val.lower()
            if low in ("true", "false"):
                out.append(("lit", low == "true"))
            elif low == "null":
                out.append(("lit", None))
            elif low in CMP | ARITH_ADD | ARITH_MUL | {"and", "or", "not"}:
                out.append(("op", low))
            else:
                out.append(("name", val))
    return out


class _Parser:
    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind):
        tok = self.take()
        if tok[0] != kind:
            raise QueryError(f"$filter: expected {kind!r}, got {tok[1]!r}")
        return tok

    def parse(self):
        node = self.or_()
        if self.i != len(self.t):
            raise QueryError(f"$filter: unexpected {self.peek()[1]!r}")
        return node

    def or_(self):
        node = self.and_()
        while self.peek() == ("op", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.peek() == ("op", "and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.peek() == ("op", "not"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self):
        left = self.add()
        kind, val = self.peek()
        if kind == "op" and val in CMP:
            self.take()
            return ("cmp", val, left, self.add())
        return left

    def add(self):
        node = self.mul()
        while self.peek()[0] == "op" and self.peek()[1] in ARITH_ADD:
            op = self.take()[1]
            node = ("arith", op, node, self.mul())
        return node

    def mul(self):
        node = self.primary()
        while self.peek()[0] == "op" and self.peek()[1] in ARITH_MUL:
            op = self.take()[1]
            node = ("arith", op, node, self.primary())
        return node

    def primary(self):
        kind, val = self.take()
        if kind == "lit":
            return ("lit", val)
        if kind == "(":
            node = self.or_()
            self.expect(")")
            return node
        if kind == "name":
            if self.peek()[0] == "(":
                name = val.lower()
                if name not in FUNCS:
                    raise QueryError(f"$filter: function {val!r} is not supported")
                self.take()
                args = []
                if self.peek()[0] != ")":
                    args.append(self.or_())
                    while self.peek()[0] == ",":
                        self.take()
                        args.append(self.or_())
                self.expect(")")
                return ("func", name, args)
            return ("path", val)
        raise QueryError(f"$filter: unexpected {val!r}")


def parse_filter(text: str):
    if text is None or not text.strip():
        return None
    return _Parser(tokenize(text)).parse()


def conjuncts(node) -> list:
    if node is None:
        return []
    if node[0] == "and":
        return conjuncts(node[1]) + conjuncts(node[2])
    return [node]


def _is_arr(x) -> bool:
    return isinstance(x, np.ndarray)


def _cmp(op: str, a, b):
    if _is_arr(a) or _is_arr(b):
        try:
            if a is None or b is None:
                other = b if a is None else a
                isnull = np.array([x is None for x in other], bool) if other.dtype == object else np.zeros(len(other), bool)
                return isnull if op == "eq" else ~isnull
            if isinstance(a, str) or isinstance(b, str):
                arr = a if _is_arr(a) else b
                if arr.dtype != object and arr.dtype.kind not in "US":
                    return np.zeros(len(arr), bool) if op != "ne" else np.ones(len(arr), bool)
            with np.errstate(invalid="ignore"):
                res = {"eq": np.equal, "ne": np.not_equal, "gt": np.greater, "ge": np.greater_equal,
                       "lt": np.less, "le": np.less_equal}[op](a, b)
            return np.asarray(res, bool)
        except TypeError:
            n = len(a) if _is_arr(a) else len(b)
            return np.zeros(n, bool)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _map(fn: Callable, *args):
    if any(_is_arr(a) for a in args):
        n = max(len(a) for a in args if _is_arr(a))
        cols = [a if _is_arr(a) else [a] * n for a in args]
        out = []
        for vals in zip(*cols):
            try:
                out.append(fn(*vals))
            except Exception:
                out.append(None)
        return np.array(out, dtype=object)
    try:
        return fn(*args)
    except Exception:
        return None


def _dt(x):
    return datetime.fromtimestamp(float(x), timezone.utc)


_FN = {
    "substringof": lambda a, b: a in b,
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
    "tolower": lambda a: a.lower(),
    "toupper": lambda a: a.upper(),
    "trim": lambda a: a.strip(),
    "length": lambda a: len(a),
    "indexof": lambda a, b: a.find(b),
    "concat": lambda a, b: f"{a}{b}",
    "year": lambda a: _dt(a).year,
    "month": lambda a: _dt(a).month,
    "day": lambda a: _dt(a).day,
    "hour": lambda a: _dt(a).hour,
    "minute": lambda a: _dt(a).minute,
    "second": lambda a: _dt(a).second,
    "round": lambda a: round(a),
    "floor": lambda a: int(np.floor(a)),
    "ceiling": lambda a: int(np.ceil(a)),
}


def evaluate(node, get: Callable[[str], Any]):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return get(node[1])
    if kind == "and":
        return np.logical_and(_truth(evaluate(node[1], get)), _truth(evaluate(node[2], get)))
    if kind == "or":
        return np.logical_or(_truth(evaluate(node[1], get)), _truth(evaluate(node[2], get)))
    if kind == "not":
        return np.logical_not(_truth(evaluate(node[1], get)))
    if kind == "cmp":
        return _cmp(node[1], evaluate(node[2], get), evaluate(node[3], get))
    if kind == "arith":
        a, b = evaluate(node[2], get), evaluate(node[3], get)
        op = node[1]
        try:
            if op == "add":
                return a + b
            if op == "sub":
                return a - b
            if op == "mul":
                return a * b
            if op == "div":
                return a / b
            return a % b
        except TypeError:
            return None
    if kind == "func":
        args = [evaluate(a, get) for a in node[2]]
        fn = _FN[node[1]]
        res = _map(fn, *args)
        if _is_arr(res) and node[1] in ("substringof", "contains", "startswith", "endswith"):
            return np.array([bool(x) for x in res], bool)
        return res
    raise QueryError(f"bad filter node {kind}")


def _truth(v):
    if _is_arr(v):
        if v.dtype == object:
            return np.array([bool(x) for x in v], bool)
        return v.astype(bool)
    return bool(v)


# --------------------------------------------------------------------------- $orderby / $expand / $select


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """'phenomenonTime desc, id' → [("phenomenonTime", True), ("id", False)] (True = descending)."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        bits = part.split()
        if not bits:
            continue
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise QueryError(f"$orderby: cannot parse {part.strip()!r}")
        out.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return out


def parse_select(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


@dataclass
class Options:
    select: list[str] | None = None
    filter: Any = None
    filter_text: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    orderby_text: str | None = None
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: dict[str, "Options"] = field(default_factory=dict)


def _split_top(text: str, sep: str) -> list[str]:
    out, depth, cur, quote = [], 0, [], False
    for ch in text:
        if ch == "'":
            quote = not quote
        if not quote:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == sep and depth == 0:
                out.append("".join(cur))
                cur = []
                continue
        cur.append(ch)
    if depth != 0:
        raise QueryError("unbalanced parentheses in $expand")
    out.append("".join(cur))
    return [x.strip() for x in out if x.strip()]


def parse_options(params: dict[str, str], max_top: int, default_top: int | None) -> Options:
    o = Options()
    known = {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$expand", "$resultFormat", "$format"}
    for k in params:
        if k.startswith("$") and k not in known:
            raise QueryError(f"unknown query option {k}")
    if params.get("$resultFormat"):
        raise QueryError("$resultFormat is not supported by this server (only the default JSON format)")
    o.select = parse_select(params.get("$select"))
    o.filter_text = params.get("$filter")
    o.filter = parse_filter(o.filter_text)
    o.orderby_text = params.get("$orderby")
    o.orderby = parse_orderby(o.orderby_text)
    if params.get("$top") not in (None, ""):
        try:
            o.top = int(params["$top"])
        except ValueError:
            raise QueryError("$top must be an integer") from None
        if o.top < 0:
            raise QueryError("$top must be ≥ 0")
    else:
        o.top = default_top
    if o.top is not None:
        o.top = min(o.top, max_top)
    if params.get("$skip") not in (None, ""):
        try:
            o.skip = int(params["$skip"])
        except ValueError:
            raise QueryError("$skip must be an integer") from None
        if o.skip < 0:
            raise QueryError("$skip must be ≥ 0")
    c = params.get("$count")
    if c not in (None, ""):
        if c.lower() not in ("true", "false"):
            raise QueryError("$count must be true or false")
        o.count = c.lower() == "true"
    if params.get("$expand"):
        o.expand = parse_expand(params["$expand"], max_top, default_top)
    return o


def parse_expand(text: str, max_top: int, default_top: int | None) -> dict[str, Options]:
    tree: dict[str, Options] = {}
    for item in _split_top(text, ","):
        m = re.match(r"^([^()]+?)(?:\((.*)\))?$", item, re.S)
        if not m:
            raise QueryError(f"$expand: cannot parse {item!r}")
        path, inner = m.group(1).strip(), m.group(2)
        parts = [p for p in path.split("/") if p]
        node_map = tree
        for j, name in enumerate(parts):
            last = j == len(parts) - 1
            if name not in node_map:
                node_map[name] = Options(top=default_top)
            if last and inner is not None:
                params = {}
                for opt in _split_top(inner, ";"):
                    k, _, v = opt.partition("=")
                    params[k.strip()] = v.strip()
                sub = parse_options(params, max_top, default_top)
                # merge children already present from a "A/B" item
                sub.expand = {**node_map[name].expand, **sub.expand}
                node_map[name] = sub
            node_map = node_map[name].expand
    return tree
