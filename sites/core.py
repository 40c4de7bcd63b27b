"""Request/response plumbing shared by the platform modules, kept free of http.server so handlers stay testable."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sites.faults import Faults
    from sites.world import World


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw_target: str = ""

    def header(self, name: str) -> str:
        """A request header, whatever case the client wrote it in ("" when absent)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def browser_like(self) -> bool:
        """A User-Agent a browser would send: what the Chinese platforms insist on (bilibili-API-collect: "User-Agent
        不含敏感子串"; Weibo answers 432 otherwise). Library and bot names give a client away."""
        agent = self.header("User-Agent")
        return agent.startswith("Mozilla/") and not any(
            word in agent.lower() for word in ("python", "curl", "scrapy", "bot", "spider", "groundswell"))

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    def int_arg(self, name: str, default: int) -> int:
        """Platforms answer nonsense numbers with their defaults rather than errors; so do we."""
        try:
            return int(self.query.get(name, default))
        except ValueError:
            return default

    def forced(self, fault: str) -> bool:
        """Per-request fault flag: `?_fault=malformed,login` forces those faults for this request only."""
        return fault in self.query.get("_fault", "").split(",")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str | list[str]] = field(default_factory=dict)  # a list: the header sent once per value


@dataclass
class Env:
    """What a handler may look at: the generated world and the current fault switches."""

    world: World
    faults: Faults


Handler = Callable[[Request, Env], Response]


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=False).encode())


def truncated_json_response(obj: Any) -> Response:
    """A page cut off mid-object, like a proxy dropping the connection: status 200, unparsable body."""
    text = json.dumps(obj, ensure_ascii=False)
    return Response(200, text[: max(1, len(text) // 2)].encode())


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), "text/html; charset=utf-8")


def text_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


def is_malformed_page(req: Request, env: Env, keyword: str, page: int) -> bool:
    f = env.faults
    if req.forced("malformed"):
        return True
    return f.malformed and page == f.malformed_page and f.malformed_keyword in (None, keyword)


def paginate(items: list[Any], page: int, size: int, first: int = 1) -> tuple[list[Any], bool]:
    """Slice page `page` (numbered from `first`); second value: whether more pages follow."""
    start = (page - first) * size
    if start < 0:
        return [], False
    chunk = items[start : start + size]
    return chunk, start + size < len(items)
