"""The OpenAPI document against the node's real answers: every route, as the public and as a
supervisor, checked status by status against the schemas the node itself serves.

The chain is tests/test_privacy.py's (a tender with three sealed bids, their guarantees), with
one sanction recorded so that exposure and eligibility have records to show. Asked:

- every GET of ``test_privacy.path_groups`` (every public parameter of every path), unsigned
  and signed by a supervisor;
- for the statuses those don't reach: bad input (400), absent (404), a pending transaction,
  a bad signature (401), a compressed body (415), the request budget (429), and below the
  oldest height of a node that keeps only recent heights (410);
- ``POST /txs``: admitted (202), partly or wholly refused (400 with the results), a body that
  is not a submission (400), too many transactions and too many bytes (413), a sender past
  its share of a small pool (429), a full pool (503).

Each answer's status must be one the route declares (a response with an undeclared status
fails), its content type one declared for that status, and its body valid against that
schema (jsonschema, Draft 2020-12: the dialect of OpenAPI 3.1), resolved in the very
document the node serves at ``GET /openapi.json``. Every route of ``shell.api.all_routes()``
must have at least one answer checked, so a route added without schemas fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from consensus.pool import PoolLimits
from ledger import encoding, jsonform
from ledger.block import Block
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx
from shell.api import all_routes, build_app, openapi
from shell.apischema import BYTES_CONVENTION
from shell.chain import Chain
from shell.config import NodeLimits, SyncConfig
from shell.readers import H_KEY, H_NONCE, H_SIG, H_TIME, sign_request
from shell.server import Node
from tests.test_privacy import BIDDERS, block_at, node_of, path_groups, replay, story
from tests.trading_kit import Trading

DOC_URI = "urn:credchain:openapi"
JSON = "application/json"
HEX = re.compile(r"^(?:[0-9a-f]{2})*$")


@dataclass(frozen=True)
class Answer:
    """One real answer, and what it answered: the route (method, OpenAPI path) and target."""

    method: str
    path: str
    target: str
    status: int
    content_type: str
    body: Any  # parsed JSON, or the text of any other content type
    sent: Any = None  # the body of a POST: its JSON value, or bytes that are not JSON


@dataclass(frozen=True)
class World:
    doc: dict[str, Any]
    answers: list[Answer]
    chain: Chain  # what every node asked holds (replays of one story)


# ---- asking -------------------------------------------------------------------------------


async def _ask(client: TestClient[Any, Any], method: str, path: str, target: str,
               headers: dict[str, str] | None = None, sent: Any = None,
               data: bytes | None = None) -> Answer:
    resp = await client.request(method, target, headers=headers or {}, allow_redirects=False,
                                json=sent if data is None and sent is not None else None,
                                data=data)
    text = await resp.text()
    body = json.loads(text) if resp.content_type == JSON else text
    if data is not None:
        try:
            sent = json.loads(data)
        except ValueError:
            sent = data  # not JSON: kept as the bytes sent
    return Answer(method, path, target, resp.status, resp.content_type, body, sent)


async def _ask_stream(client: TestClient[Any, Any], target: str) -> Answer:
    """An endless stream's answer: its status, type and first frames (then hung up)."""
    resp = await client.get(target)
    text = ""
    try:
        while text.count("\n\n") < 2:
            chunk = await asyncio.wait_for(resp.content.readany(), 5)
            if not chunk:
                break
            text += chunk.decode()
    finally:
        resp.close()
    assert text.startswith("retry: ") and "event: hello" in text, text[:200]
    return Answer("GET", "/events/stream", target, resp.status, resp.content_type, text)


def _tx(t: Trading, secret: bytes, nonce: int, forge: bool = False) -> SignedTx:
    suite = t.h.suite
    body = TxBody(t.h.chain_id, suite.public_key(secret), nonce, "bench.noop", {"n": nonce})
    signed = sign_tx(suite, secret, body)
    if forge:  # another body under this signature
        other = TxBody(t.h.chain_id, suite.public_key(secret), nonce + 1, "bench.noop", {})
        signed = SignedTx(other, signed.sig)
    return signed


def _extra_gets(t: Trading, height: int, first_tx: str) -> dict[str, list[str]]:
    """Targets for statuses the privacy paths don't reach (on the archive node)."""
    uscc = t.uscc_of[BIDDERS[0]]
    return {
        "/txs/{tx_id}": ["/txs/zz", f"/txs/{'00' * 32}", f"/txs/{first_tx.upper()}"],
        "/txs/{tx_id}/inclusion": [f"/txs/{'00' * 32}/inclusion", "/txs/0/inclusion"],
        "/blocks/{height}": ["/blocks/abc"],
        "/headers/{height}": ["/headers/-1"],
        "/state/{key}": ["/state/no/such/key"],
        "/proof/{key}": [f"/proof/tender/T1?height={height + 5}", "/proof/tender/T1?height=1"],
        "/proofs": ["/proofs", f"/proofs?key=tender/T1&height={height + 5}",
                    "/proofs?" + "&".join(f"key=k{i}" for i in range(300))],
        "/tenders/{tender_id}/slots": ["/tenders/T1/slots?lot=x"],
        "/eligibility/{uscc}": [f"/eligibility/{uscc}", f"/eligibility/{uscc}?tender=T1&lot=x",
                                "/eligibility/X?tender=T1"],
        "/exposure": ["/exposure?kind=no_such_kind", "/exposure?limit=0",
                      "/exposure?cursor=abc", "/exposure?limit=1"],
        "/metrics": ["/metrics"],
    }


async def _gather(t: Trading, main: Node, small: Node, tight: Node) -> list[Answer]:
    suite, chain_id = t.h.suite, t.h.chain_id
    groups = path_groups(t, main.chain)
    height = main.chain.height()
    first_tx = block_at(main.chain, 1).tx_ids(suite)[0].hex()
    out: list[Answer] = []
    async with TestClient(TestServer(build_app(main, main.guard))) as client:
        for path, targets in groups.items():
            for target in targets:
                out.append(await _ask(client, "GET", path, target))
                signed = sign_request(suite, t.supervisor.secret, chain_id, "GET", target)
                out.append(await _ask(client, "GET", path, target, signed))
        for path, targets in _extra_gets(t, height, first_tx).items():
            for target in targets:
                out.append(await _ask(client, "GET", path, target))
        out.append(await _ask(client, "GET", "/events/stream", "/events/stream?cursor=x.y"))
        out.append(await _ask_stream(client, "/events/stream?from_height=1"))
        bad_sig = {H_KEY: "00" * 32, H_TIME: "0", H_NONCE: "00" * 16, H_SIG: "00" * 64}
        out.append(await _ask(client, "GET", "/status", "/status", bad_sig))
        out.append(await _ask(client, "GET", "/status", "/status",
                              {"Content-Encoding": "gzip"}))
        # POST /txs: an enterprise's next transactions, to a node whose replica does not
        # run, so what is admitted stays pending.
        who = t.h.account(BIDDERS[1])
        sender, n0 = who.secret, t.h.nonce_of(who)
        good, good2 = _tx(t, sender, n0), _tx(t, sender, n0 + 1)
        admitted = {"txs": [good.encode().hex()]}
        out.append(await _ask(client, "POST", "/txs", "/txs", sent=admitted))
        out.append(await _ask(client, "GET", "/txs/{tx_id}", f"/txs/{good.tx_id(suite).hex()}"))
        refused: list[Any] = [{"txs": [_tx(t, sender, n0 + 5, forge=True).encode().hex(),
                               good2.encode().hex()]},
                              {"tx": "80"}, {"txs": []}, {"txs": ["zz"]}, {"nothing": 1}, ["80"]]
        for sent in refused:
            out.append(await _ask(client, "POST", "/txs", "/txs", sent=sent))
        out.append(await _ask(client, "POST", "/txs", "/txs", data=b"not json",
                              headers={"Content-Type": JSON}))
        signed_post = json.dumps({"tx": _tx(t, sender, n0 + 2).encode().hex()}).encode()
        out.append(await _ask(client, "POST", "/txs", "/txs", data=signed_post, headers={
            "Content-Type": JSON, **sign_request(suite, t.supervisor.secret, chain_id, "POST",
                                                 "/txs", signed_post)}))
    async with TestClient(TestServer(build_app(small, small.guard))) as client:
        for target in ("/blocks/1", f"/blocks/{height}"):
            out.append(await _ask(client, "GET", "/blocks/{height}", target))
        out.append(await _ask(client, "GET", "/headers/{height}", "/headers/1"))
        out.append(await _ask(client, "GET", "/proof/{key}", "/proof/tender/T1?height=1"))
        out.append(await _ask(client, "GET", "/proofs", "/proofs?key=tender/T1&height=1"))
        signed = sign_request(suite, t.supervisor.secret, chain_id, "GET",
                              f"/txs/{first_tx}/inclusion")
        out.append(await _ask(client, "GET", "/txs/{tx_id}/inclusion",
                              f"/txs/{first_tx}/inclusion", signed))
        three = {"txs": [_tx(t, sender, n0 + n).encode().hex() for n in range(3)]}
        out.append(await _ask(client, "POST", "/txs", "/txs", sent=three))
        out.append(await _ask(client, "POST", "/txs", "/txs", sent={"txs": ["00" * 4000]}))
        # Its pool is small: a sender past its share waits (429), a full pool is busy (503).
        other = t.h.account(BIDDERS[2])
        m0 = t.h.nonce_of(other)
        for secret, nonces in ((sender, (n0, n0 + 1)), (sender, (n0 + 2,)),
                               (other.secret, (m0, m0 + 1)), (other.secret, (m0 + 2,))):
            sent = {"txs": [_tx(t, secret, n).encode().hex() for n in nonces]}
            out.append(await _ask(client, "POST", "/txs", "/txs", sent=sent))
    async with TestClient(TestServer(build_app(tight, tight.guard))) as client:
        for _ in range(4):
            out.append(await _ask(client, "GET", "/status", "/status"))
    return out


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    t = story(bids=True)
    t.credit(BIDDERS[0], "bid_debarment")  # a sanction in force: exposure, eligibility
    main = node_of(replay(t), t)
    small_pool = PoolLimits(backlog_txs=4, sender_share_min=2)
    small = node_of(Chain.open(replay(t).kv, t.h.doc, small_pool), t,
                    NodeLimits(requests_per_second=100_000, max_request_bytes=4096,
                               max_txs_per_request=2), SyncConfig(retain_heights=2))
    tight = node_of(replay(t), t, NodeLimits(requests_per_second=3))
    try:
        answers = asyncio.run(_gather(t, main, small, tight))
    finally:
        for node in (main, small, tight):
            node.admission.close()
    served = [a for a in answers if a.target == "/openapi.json" and a.status == 200]
    assert served, "the node did not serve its OpenAPI document"
    yield World(served[-1].body, answers, main.chain)


# ---- checking -----------------------------------------------------------------------------


def _pointer(*parts: str) -> str:
    return "".join("/" + quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in parts)


def check(doc: dict[str, Any], answer: Answer) -> str | None:
    """Why ``answer`` is not what ``doc`` declares for its route, or None when it is."""
    where = f"{answer.method} {answer.target} → {answer.status} {answer.content_type}"
    op = doc["paths"].get(answer.path, {}).get(answer.method.lower())
    if op is None:
        return f"{where}: the document has no {answer.method} {answer.path}"
    response = op["responses"].get(str(answer.status))
    at: tuple[str, ...] = ("paths", answer.path, answer.method.lower(), "responses",
                           str(answer.status))
    if response is None:
        return f"{where}: status {answer.status} is not declared for {answer.path}"
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response, at = doc["components"]["responses"][name], ("components", "responses", name)
    content = response.get("content", {})
    if not content and _bodiless(answer.status):
        return None  # a redirect, or no content: what its body says is not the API's
    if answer.content_type not in content:
        return f"{where}: declared content types for this status are {sorted(content)}"
    if "schema" not in content[answer.content_type]:
        return f"{where}: no schema declared"
    schema_at = _pointer(*at, "content", answer.content_type, "schema")
    validator = Draft202012Validator({"$ref": DOC_URI + "#" + schema_at},
                                     registry=_registry(doc))
    errors = sorted(validator.iter_errors(answer.body), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        return (f"{where}: {e.message[:300]} at {'/'.join(map(str, e.absolute_path))} "
                f"(schema {'/'.join(map(str, e.absolute_schema_path))})")
    return None


def _bodiless(status: int) -> bool:
    return status == 204 or 300 <= status < 400


_REGISTRIES: dict[int, Registry[Any]] = {}


def _registry(doc: dict[str, Any]) -> Registry[Any]:
    if id(doc) not in _REGISTRIES:
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        _REGISTRIES[id(doc)] = Registry().with_resource(DOC_URI, resource)
    return _REGISTRIES[id(doc)]


def _schemas(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, schema in doc["components"]["schemas"].items():
        yield f"components/schemas/{name}", schema
    for name, response in doc["components"]["responses"].items():
        for ct, media in response.get("content", {}).items():
            yield f"components/responses/{name} {ct}", media["schema"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                for ct, media in response.get("content", {}).items():
                    yield f"{method.upper()} {path} {code} {ct}", media["schema"]
            for ct, media in op.get("requestBody", {}).get("content", {}).items():
                yield f"{method.upper()} {path} request {ct}", media["schema"]
            for param in op.get("parameters", []):
                yield f"{method.upper()} {path} parameter {param['name']}", param["schema"]


def _tags(value: Any, where: str = "$") -> Iterator[str]:
    """Every ``$bin`` tag in a JSON value that is not ``{"$bin": "<lowercase hex>"}``."""
    if isinstance(value, dict):
        if "$bin" in value and (set(value) != {"$bin"} or not isinstance(value["$bin"], str)
                                or not HEX.match(value["$bin"])):
            yield f"{where}: {json.dumps(value)[:120]}"
        for k, v in value.items():
            yield from _tags(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _tags(v, f"{where}[{i}]")


# ---- the tests ----------------------------------------------------------------------------


def test_the_document_is_the_routes_and_its_schemas_are_valid_json_schema(
        world: World) -> None:
    doc = world.doc
    assert doc == json.loads(json.dumps(openapi()))
    assert doc["openapi"] == "3.1.0"
    assert BYTES_CONVENTION in doc["info"]["description"]
    guide = (Path(__file__).resolve().parents[1] / "shell" / "API.md").read_text()
    assert " ".join(BYTES_CONVENTION.split()) in " ".join(guide.split()), "API.md drifted"
    assert sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops) == sorted(
        (r.method, r.path) for r in all_routes())
    for where, schema in _schemas(doc):
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # SchemaError: say which one
            raise AssertionError(f"{where}: not a valid JSON Schema: {exc}") from None
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            named = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert named == set(re.findall(r"{(\w+)}", path)), (method, path)
            for code, response in op["responses"].items():
                if "$ref" not in response and not _bodiless(int(code)):
                    assert response.get("content"), f"{method} {path} {code}: no content"


def test_every_answer_of_every_route_is_what_the_document_declares(world: World) -> None:
    wrong = [why for a in world.answers if (why := check(world.doc, a)) is not None]
    assert not wrong, f"{len(wrong)} answers break the document:\n" + "\n".join(wrong[:20])
    checked = {(a.method, a.path) for a in world.answers}
    untested = [f"{r.method} {r.path}" for r in all_routes() if (r.method, r.path) not in checked]
    assert not untested, f"routes with no real answer checked: {untested} (ask them here)"


def test_the_request_schema_takes_exactly_the_bodies_the_node_reads(world: World) -> None:
    """A body the request schema takes is read as a submission (each transaction gets a
    result); one it refuses is answered with an error object (413s, over a size limit the
    schema does not state, aside)."""
    posts = [a for a in world.answers if a.method == "POST" and a.status != 413]
    assert len(posts) >= 5
    schema_at = _pointer("paths", "/txs", "post", "requestBody", "content", JSON, "schema")
    validator = Draft202012Validator({"$ref": DOC_URI + "#" + schema_at},
                                     registry=_registry(world.doc))
    for a in posts:
        if isinstance(a.sent, bytes):
            assert a.status == 400 and set(a.body) == {"error"}, a  # not JSON at all
            continue
        assert validator.is_valid(a.sent) == ("results" in a.body), (a.sent, a.status, a.body)


def test_the_answers_reach_the_statuses_that_matter(world: World) -> None:
    """The check above saw the routes' error answers too, not only their 200s."""
    seen = {(a.method, a.path, a.status) for a in world.answers}
    for expected in [("POST", "/txs", s) for s in (202, 400, 413)] + [
            ("GET", "/status", s) for s in (200, 401, 415, 429)] + [
            ("GET", "/txs/{tx_id}", 404), ("GET", "/state/{key}", 403),
            ("GET", "/state/{key}", 404), ("GET", "/proof/{key}", 410),
            ("GET", "/proofs", 410), ("GET", "/blocks/{height}", 410),
            ("GET", "/headers/{height}", 410), ("GET", "/txs/{tx_id}/inclusion", 410),
            ("GET", "/txs/{tx_id}/inclusion", 403), ("GET", "/txs/{tx_id}/inclusion", 404),
            ("GET", "/tenders/{tender_id}/slots", 403), ("GET", "/exposure", 400),
            ("GET", "/healthz", 503)]:
        assert expected in seen, expected
    shown = [a.body for a in world.answers if a.path == "/exposure" and a.status == 200]
    assert any(page["records"] for page in shown)
    assert any(a.body.get("status") == "pending" for a in world.answers
               if a.path == "/txs/{tx_id}" and a.status == 200)


def test_bytes_are_hex_or_tagged_everywhere_and_errors_are_error_objects(world: World) -> None:
    for a in world.answers:
        if a.content_type == "text/event-stream":
            frames = [json.loads(line[len("data: "):]) for line in a.body.splitlines()
                      if line.startswith("data: ")]
            assert frames and not [t for f in frames for t in _tags(f)], a
            continue
        if a.path.startswith("/portal"):
            continue  # the portal's pages and files (HTML, scripts, CSS): shell/portal
        assert a.content_type == JSON or a.path == "/metrics", a
        if a.status >= 400 and "error" in (a.body if isinstance(a.body, dict) else {}):
            assert set(a.body) == {"error"}, a
        bad = list(_tags(a.body)) if a.path != "/openapi.json" else []  # it names "$bin"
        assert not bad, f"{a.target}: malformed $bin tags {bad[:3]}"
    # the sanction's bytes (issuer, evidence hash) are tagged in the exposure records
    records = [r for a in world.answers if a.path == "/exposure" and a.status == 200
               for r in a.body["records"]]
    assert records and all(HEX.match(r["evidence_hash"]["$bin"]) for r in records)


def test_json_forms_read_back_to_the_bytes_the_chain_holds(world: World) -> None:
    """What a schema cannot tell (a byte string written as text in an untyped value): the
    tagged state values encode back to the stored CE bytes, and the blocks, transactions
    and receipts a supervisor is shown decode (``jsonform.from_json``) to the hashes the
    same answer lists."""
    suite, chain = world.chain.suite, world.chain
    ok = [a for a in world.answers if a.status == 200]
    states = [a for a in ok if a.path == "/state/{key}"]
    assert states
    for a in states:
        value = jsonform.tagged_from_json(a.body["value"])
        assert encoding.encode(value) == chain.state_value(a.body["key"]), a.target
    full = [a for a in ok if a.path == "/blocks/{height}" and "block" in a.body]
    assert any(a.body["tx_ids"] for a in full)
    for a in full:
        block = Block.from_obj(jsonform.from_json(a.body["block"], jsonform.BLOCK))
        assert block.hash(suite).hex() == a.body["hash"]
        assert [t.hex() for t in block.tx_ids(suite)] == a.body["tx_ids"]
        receipts = [Receipt.from_obj(jsonform.from_json(r, jsonform.RECEIPT))
                    for r in a.body["receipts"]]
        assert [r.hash(suite).hex() for r in receipts] == a.body["receipt_hashes"]
    for a in ok:
        if a.path == "/txs/{tx_id}" and "tx" in a.body:
            tx = SignedTx.from_obj(jsonform.from_json(a.body["tx"], jsonform.TX))
            assert tx.tx_id(suite).hex() == a.body["tx_id"]


def test_the_check_refuses_what_the_document_does_not_declare(world: World) -> None:
    """The checker itself: a wrong type, an undeclared status, an undeclared content type
    and an error object where an answer is due are all refused."""
    doc = world.doc
    header = next(a for a in world.answers
                  if a.path == "/headers/{height}" and a.status == 200)
    assert check(doc, header) is None
    broken = {**header.body, "header": {**header.body["header"], "height": "1"}}
    assert "is not of type 'integer'" in (check(doc, _with(header, body=broken)) or "")
    upper = {**header.body, "hash": header.body["hash"].upper()}
    assert "does not match" in (check(doc, _with(header, body=upper)) or "")
    assert "not declared" in (check(doc, _with(header, status=418)) or "")
    assert "content types" in (check(doc, _with(header, content_type="text/html")) or "")
    assert check(doc, _with(header, body={"error": "x"})) is not None
    state = next(a for a in world.answers if a.path == "/state/{key}" and a.status == 200)
    untagged = {**state.body, "value": {"$bin": "ABCD"}}
    assert check(doc, _with(state, body=untagged)) is not None


def _with(a: Answer, **changes: Any) -> Answer:
    return Answer(**{**a.__dict__, **changes})
