"""OpenCost's v2 allocation filter language, parsed and matched.

    namespace:"kube-system"                    equal (several values: any of them)
    namespace!:"a","b"                         none of them
    pod~:"web"  pod!~:"web"                    contains / does not
    pod<~:"web-"  pod!<~:"web-"                starts with / does not
    pod~>:"-0"  pod!~>:"-0"                    ends with / does not
    label[app]:"x"  annotation[owner]:"y"      keyed fields
    a + b    a | b    (a | b) + c               and, or, grouping

Fields: cluster, node, namespace, controllerKind, controllerName, pod, container, provider
(providerID), services, label[...], annotation[...], and the aliases department, environment,
owner, product, team (their OpenCost default labels). `+` and `|` cannot be mixed in one group
without parentheses. Errors name the token, as OpenCost's parser does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scaler.core.allocation.aggregate import ALIAS_LABELS
from scaler.core.allocation.model import Allocation
from scaler.core.allocation.teams import label_value

FIELDS = (
    "cluster",
    "node",
    "namespace",
    "controllerKind",
    "controllerName",
    "pod",
    "container",
    "provider",
    "services",
    *ALIAS_LABELS,
)
MAP_FIELDS = ("label", "annotation")
OPS = ("!<~:", "!~>:", "!~:", "<~:", "~>:", "~:", "!:", ":")  # longest first
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!<~:|!~>:|!~:|<~:|~>:|~:|!:|:)'
    r"|(?P<punct>[+|,()])|(?P<key>\[[^\]]*\])|(?P<ident>[A-Za-z_][A-Za-z0-9_./-]*))"
)


class FilterError(ValueError):
    pass


Matcher = Callable[[Allocation], bool]


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            raise FilterError(f"at '{text[i:].strip()[:20]}': unexpected character")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        i = m.end()
    out.append(_Tok("eof", ""))
    return out


def _values(a: Allocation, field: str, key: str) -> list[str]:
    """The allocation's values of a field (services may have several)."""
    p = a.properties
    if field == "label":
        v = label_value(p.labels, key)
        return [v] if v is not None else []
    if field == "annotation":
        v = label_value(p.annotations, key)
        return [v] if v is not None else []
    if field == "services":
        return list(p.services)
    if field in ALIAS_LABELS:
        v = (p.team or None) if field == "team" else None
        v = v or label_value(p.labels, ALIAS_LABELS[field])
        return [v] if v else []
    simple: Mapping[str, str] = {
        "cluster": p.cluster,
        "node": p.node,
        "namespace": p.namespace,
        "controllerKind": p.controller_kind.lower(),
        "controllerName": p.controller,
        "pod": p.pod,
        "container": p.container,
        "provider": p.provider_id,
    }
    return [simple[field]]


def _test(op: str, have: list[str], wanted: list[str]) -> bool:
    base = op.lstrip("!")
    if base == ":":
        hit = any(h == w for h in have for w in wanted) or (not have and "" in wanted)
    elif base == "~:":
        hit = any(w in h for h in have for w in wanted)
    elif base == "<~:":
        hit = any(h.startswith(w) for h in have for w in wanted)
    else:  # "~>:"
        hit = any(h.endswith(w) for h in have for w in wanted)
    return not hit if op.startswith("!") else hit


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, message: str) -> FilterError:
        t = self.peek()
        where = "at end" if t.kind == "eof" else f"at '{t.text}'"
        return FilterError(f"{where}: {message}")

    def filter(self) -> Matcher:
        parts = [self.element()]
        op = ""
        while self.peek().text in ("+", "|") and self.peek().kind == "punct":
            this = self.take().text
            if op and this != op:
                raise FilterError(
                    f"at '{this}': cannot mix '+' and '|' in one group (use parentheses)"
                )
            op = this
            parts.append(self.element())
        if len(parts) == 1:
            return parts[0]
        if op == "+":
            return lambda a: all(p(a) for p in parts)
        return lambda a: any(p(a) for p in parts)

    def element(self) -> Matcher:
        t = self.peek()
        if t.kind == "punct" and t.text == "(":
            self.take()
            inner = self.filter()
            if self.peek().text != ")":
                raise self.error("expected ')'")
            self.take()
            return inner
        return self.comparison()

    def comparison(self) -> Matcher:
        t = self.take()
        if t.kind != "ident":
            self.i -= 1 if t.kind != "eof" else 0
            raise self.error("expected a filter field")
        field, key = t.text, ""
        if field in MAP_FIELDS:
            k = self.take()
            if k.kind != "key" or len(k.text) < 3:
                where = k.text or t.text
                raise FilterError(f"at '{where}': {field} needs a key, e.g. {field}[app]")
            key = k.text[1:-1]
        elif field not in FIELDS:
            raise FilterError(
                f"at '{field}': unknown filter field (expected one of "
                f"{', '.join((*FIELDS, 'label[...]', 'annotation[...]'))})"
            )
        o = self.take()
        if o.kind != "op":
            self.i -= 1 if o.kind != "eof" else 0
            raise self.error("expected an operator (:, !:, ~:, !~:, <~:, !<~:, ~>:, !~>:)")
        wanted = [self.string()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            wanted.append(self.string())
        op = o.text
        return lambda a: _test(op, _values(a, field, key), wanted)

    def string(self) -> str:
        t = self.peek()
        if t.kind != "str":
            raise self.error('expected a quoted value, e.g. "kube-system"')
        self.take()
        return re.sub(r"\\(.)", r"\1", t.text[1:-1])


def parse_filter(text: str) -> Matcher | None:
    """A matcher for the filter, or None for an empty filter (everything passes)."""
    if not text.strip():
        return None
    p = _Parser(text)
    m = p.filter()
    if p.peek().kind != "eof":
        raise p.error("unexpected input after the filter")
    return m
