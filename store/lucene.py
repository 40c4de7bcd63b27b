"""Lucene query syntax, checked without a cluster: a rule's query is refused when the configuration loads, not
found broken at 3 a.m. by a rule that never fires.

luqum parses the classic Lucene syntax Elasticsearch's query_string reads. It is a necessary check, not a
sufficient one: what it refuses Elasticsearch refuses too (unbalanced parentheses or quotes, a dangling AND/OR, an
empty field), while a query that parses may still be refused by the store for its fields (`likes:lots` on a
number); rules report that when they run (alerts.rules.registry)."""

from __future__ import annotations

import re

from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.parser import parser

_AT_POSITION = re.compile(r"unexpected\s+'?(?P<token>[^']*?)'? at position (?P<pos>\d+)")


def syntax_error(query: str) -> str | None:
    """Why `query` is not valid Lucene syntax, in words for the person who wrote it; None when it parses."""
    try:
        parser.parse(query)
    except IllegalCharacterError as exc:
        text = str(exc)
        if '"' in text:
            return "a quote is not closed"
        return f"cannot read it ({text})"
    except ParseError as exc:
        text = str(exc)
        if "end of expression" in text:
            if query.count("(") > query.count(")"):
                return "a parenthesis is not closed"
            return "it ends too early (after an operator or a field name?)"
        m = _AT_POSITION.search(text)
        if m:
            token = m.group("token").strip()
            if token == ")":
                return f"a closing parenthesis at position {m.group('pos')} has no opening one"
            return f"unexpected {token!r} at position {m.group('pos')}"
        return f"cannot read it ({text})"
    except RecursionError:
        return "it is nested too deeply"
    return None
