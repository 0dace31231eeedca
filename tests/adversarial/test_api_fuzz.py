"""Hypothesis over the HTTP API: whatever a client sends — any route of the OpenAPI document
with any path values, query strings, headers and bodies — the node answers with a status it
means (never a 5xx): the answer is one the document declares for the route (checked with
``tests.test_openapi.check``) or, where the path no longer names that route, a JSON error
object with a reason; and the node keeps committing afterwards. Bounded: a few hundred
requests against one running node."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from yarl import URL

from shell.api import openapi
from tests.test_api import hexes, running, tx, wait_committed
from tests.test_openapi import Answer, check

DOC = json.loads(json.dumps(openapi()))

ROUTES = sorted((method.upper(), path) for path, ops in openapi()["paths"].items()
                for method in ops)
ENDLESS = {"/events/stream"}  # a stream answers 200 and stays open: asked with a bad cursor

TEXT = st.text(min_size=0, max_size=40)  # any Unicode, controls and surrogate-free
SEGMENT = st.one_of(TEXT, st.sampled_from(["0", "1", "-1", "²", "١٢", "9" * 30, "..", "%00",
                                           "a" * 300, "T1", "nonce", "bid/T1/1"]))
QUERY = st.dictionaries(st.sampled_from(["height", "key", "lot", "tender", "cursor", "limit",
                                         "from_height", "type", "remind", "uscc", "kind",
                                         "region", "after", "number", "heartbeat_ms"]),
                        SEGMENT, max_size=4)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20)
BODY = st.one_of(JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                 st.builds(lambda v: json.dumps({"txs": v}).encode(),
                           st.lists(st.one_of(TEXT, st.binary(max_size=64).map(bytes.hex)),
                                    max_size=4)))
HEADERS = st.dictionaries(
    st.sampled_from(["X-Credchain-Key", "X-Credchain-Time", "X-Credchain-Nonce",
                     "X-Credchain-Signature", "Content-Encoding", "Last-Event-ID"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
    max_size=3)


@st.composite
def requests(draw: Any) -> tuple[str, str, str, dict[str, str], bytes | None]:
    method, path = draw(st.sampled_from(ROUTES))
    target = re.sub(r"{(\w+)}", lambda _: quote(draw(SEGMENT), safe=""), path)
    query = draw(QUERY)
    if path in ENDLESS:
        query["cursor"] = "not-a-cursor"
    if query:
        target += "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
    body = draw(BODY) if method == "POST" else None
    return method, path, target, draw(HEADERS), body


# Dot segments go to the node as they are: a client that resolved them (aiohttp does unless
# the URL is marked encoded) would ask for another route (``/portal/js/..`` is ``/portal/``).
DOT_SEGMENTS: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
    ("GET", "/portal/js/{name}", "/portal/js/..", {}, None),
    ("GET", "/portal/js/{name}", "/portal/js/%2E%2E%2Fapi.py", {}, None),
    ("GET", "/portal/static/{name}", "/portal/static/..", {}, None),
    ("GET", "/blocks/{height}", "/blocks/..", {}, None),
]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(st.lists(requests(), min_size=20, max_size=30))
@example(DOT_SEGMENTS)
def test_any_request_gets_a_meant_answer_and_the_chain_goes_on(
        batch: list[tuple[str, str, str, dict[str, str], bytes | None]]) -> None:
    async def body() -> None:
        async with running() as (n, client):
            base = str(client.make_url("/")).rstrip("/")
            for method, path, target, headers, data in batch:
                url = URL(base + target, encoded=True)  # the path as drawn, not resolved
                resp = await client.session.request(method, url, headers=headers, data=data,
                                                    allow_redirects=False)
                assert resp.url.raw_path == target.split("?")[0], resp.url
                text = await resp.text()
                where = f"{method} {target[:120]} -> {resp.status}: {text[:200]}"
                assert resp.status < 500, where
                json_body = resp.content_type == "application/json"
                got = json.loads(text) if json_body else text
                if check(DOC, Answer(method, path, target, resp.status, resp.content_type,
                                     got)) is None:
                    continue  # an answer the document declares for this route
                # the path reached another route, or none: then an error object
                assert resp.status >= 400 and json_body and isinstance(got, dict) \
                    and isinstance(got.get("error"), str) and got["error"], where
            # and the node still commits an honest transaction
            nonce = n.chain.committed_nonce(tx(0).body.sender)
            resp = await client.post("/txs", json=hexes(tx(nonce)))
            assert resp.status == 202, await resp.text()
            await wait_committed(client, tx(nonce).tx_id(n.chain.suite).hex())

    asyncio.run(body())
