"""JSON for the store's requests and responses through orjson, the standard library's json where orjson refuses.

Every batch the Elasticsearch stage writes is serialized once (the bulk body) and every search answer parsed once:
with the standard library that was ~0.04 ms per mention of the ingest process's one interpreter lock (issue 14).
orjson is stricter than `json`: a lone surrogate in crawled text, an integer over 64 bits or a non-string key
would fail a whole request, so such a value goes through `json` instead, byte for byte as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from elastic_transport import JsonSerializer, NdjsonSerializer


class _Orjson(JsonSerializer):
    def json_dumps(self, data: Any) -> bytes:
        try:
            return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:
            return super().json_dumps(data)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


class OrjsonSerializer(_Orjson):
    """application/json (and, through the client, its compatibility mimetype)."""


class OrjsonNdjsonSerializer(_Orjson, NdjsonSerializer):
    """application/x-ndjson: the bulk body, one document per line."""


def serializers() -> dict[str, JsonSerializer]:
    return {OrjsonSerializer.mimetype: OrjsonSerializer(), OrjsonNdjsonSerializer.mimetype: OrjsonNdjsonSerializer()}
