"""The OpenAPI document of the node's HTTP API (``document``) and the JSON Schemas in it.

Where the schemas come from:

- The typed JSON forms — headers, QCs, blocks, transactions, receipts, the PROTOCOL §7/§8/§9
  bundles — are converted from ``ledger.jsonform``'s schemas (``from_jsonform``), the very
  definitions the node writes them with, so a field is defined once. Each such form has a
  name under ``components/schemas`` (``JSONFORM_NAMES``) and is referenced from elsewhere.
- The API's own answers (a transaction's status, a block with its hashes, a state value,
  status, health …) are written here, beside the building blocks they share (``Hex``,
  ``Hash``, ``Tagged``, ``Error``).
- A route declares its answers in its ``Route.responses``: status → ``{"description",
  "schema", "content_type"}`` (``application/json`` unless it says otherwise). The
  middleware of ``shell.api`` can answer any request with an error object, whatever the
  route (``MIDDLEWARE``: 400, 401, 413, 415, 429, 500, 503), so ``document`` adds those to
  every operation; where a route declares one of those statuses itself, its schema becomes
  "the route's answer, or an error object".

The schemas are JSON Schema 2020-12, the dialect of OpenAPI 3.1. Maps are closed
(``additionalProperties: false``): a field added to an answer without its schema is a
failure of ``tests/test_openapi.py``, which checks real answers of every route against this
document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contracts.exposure import PUBLIC_FIELDS as EXPOSURE_FIELDS
from ledger import jsonform
from shell.apikit import Route

JSON = "application/json"
_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"

BYTES_CONVENTION = (
    "Bytes in JSON, one convention everywhere (ledger/PROTOCOL.md §10): a field whose schema "
    "says it holds bytes (`Hex`, `Hash`: hashes, keys, signatures, CE-encoded transactions, "
    "every `bin` field of the typed forms Header, QC, Block, Tx, Receipt and the §7/§8/§9 "
    "bundles) is a string of lowercase hex, even length, `Hash` exactly 64 digits. In a "
    "value no schema types (transaction `args`, receipt `events`, state values, exposure "
    "records: `Tagged`), a byte string is the object `{\"$bin\": \"<lowercase hex>\"}`, so "
    "bytes are told from text without knowing the contract; a map whose only key is "
    "`\"$bin\"` or `\"$map\"` is written `{\"$map\": {<its key>: <its value>}}`. Nowhere else "
    "do bytes appear, and never in another encoding."
)

DESCRIPTION = (
    "The HTTP API of a credchain node (shell/API.md). JSON in and out, except /metrics "
    "(Prometheus text).\n\n" + BYTES_CONVENTION + "\n\n"
    "Integers are JSON integers, times Unix milliseconds (`*_ms`). An error is "
    "`{\"error\": \"<reason>\"}` with a 4xx or 5xx status. A request may be signed by a key "
    "the chain knows (headers X-Credchain-Key, -Time, -Nonce, -Signature; shell/readers.py): "
    "what a reader may see (sealed bids, an entity's own acts) depends on who signed."
)


def ref(name: str) -> dict[str, Any]:
    """A reference to the schema ``components/schemas/<name>``."""
    return {"$ref": _SCHEMAS + name}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [dict(schema), {"type": "null"}]}


def obj(required: Mapping[str, Any], optional: Mapping[str, Any] | None = None,
        description: str | None = None) -> dict[str, Any]:
    """A closed object: these fields, the first ones always there."""
    out: dict[str, Any] = {"type": "object", "required": list(required),
                           "properties": {**required, **(optional or {})},
                           "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def answer(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A route's JSON answer for one status (``Route.responses``)."""
    return {"description": description, "schema": dict(schema)}


def text_answer(description: str, *content_types: str) -> dict[str, Any]:
    """A route's answer for one status in one of these non-JSON types (a page, a script)."""
    return {"description": description, "content_type": content_types,
            "schema": {"type": "string"}}


def array(items: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "array", "items": dict(items), **more}


TEXT: dict[str, Any] = {"type": "string"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
FLAG: dict[str, Any] = {"type": "boolean"}

# ---- the typed JSON forms, from ledger.jsonform ---------------------------------------------

JSONFORM_NAMES: tuple[tuple[str, jsonform.Schema], ...] = (
    ("Header", jsonform.HEADER),
    ("QC", jsonform.QC),
    ("Validators", jsonform.VALIDATORS),
    ("ValidatorChain", jsonform.VALIDATOR_CHAIN),
    ("StateProof", jsonform.PROOF),
    ("AuditPath", jsonform.PATH),
    ("Tx", jsonform.TX),
    ("Receipt", jsonform.RECEIPT),
    ("Block", jsonform.BLOCK),
    ("Bundle", jsonform.BUNDLE),
    ("Inclusion", jsonform.INCLUSION),
    ("Multi", jsonform.MULTI),
)


def from_jsonform(schema: jsonform.Schema, named: bool = True) -> dict[str, Any]:
    """The JSON Schema of ``schema``'s JSON form (what ``jsonform.to_json`` writes). A map's
    fields are all required and no others allowed (the typed ``from_obj`` parsers take exact
    maps). With ``named``, a form of ``JSONFORM_NAMES`` is a reference to its component."""
    if named:
        for name, form in JSONFORM_NAMES:
            if schema is form:
                return ref(name)
    if isinstance(schema, jsonform.Hash):
        return ref("Hash")
    if isinstance(schema, jsonform.Bin):
        return ref("Hex")
    if isinstance(schema, jsonform.Int):
        return dict(COUNT)
    if isinstance(schema, jsonform.Text):
        return dict(TEXT)
    if isinstance(schema, jsonform.Flag):
        return dict(FLAG)
    if isinstance(schema, jsonform.Plain):
        return ref("Plain")
    if isinstance(schema, jsonform.Tagged):
        return ref("Tagged")
    if isinstance(schema, jsonform.Nullable):
        return nullable(from_jsonform(schema.inner))
    if isinstance(schema, jsonform.ListOf):
        return array(from_jsonform(schema.item))
    if isinstance(schema, jsonform.Fixed):
        n = len(schema.items)
        return {"type": "array", "prefixItems": [from_jsonform(s) for s in schema.items],
                "items": False, "minItems": n, "maxItems": n}
    if isinstance(schema, jsonform.MapOf):
        return {"type": "object", "additionalProperties": from_jsonform(schema.value)}
    return obj({key: from_jsonform(field) for key, field in schema.items()})


# ---- building blocks ----------------------------------------------------------------------

_BASICS: dict[str, dict[str, Any]] = {
    "Hex": {"type": "string", "pattern": "^(?:[0-9a-f]{2})*$",
            "description": "bytes, as lowercase hex of even length"},
    "Hash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
             "description": "a 32-byte digest (bin32), as 64 lowercase hex digits"},
    "TaggedBytes": {**obj({"$bin": ref("Hex")}),
                    "description": "a byte string inside an untyped value"},
    "TaggedEscape": {**obj({"$map": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"enum": ["$bin", "$map"]}, "additionalProperties": ref("Tagged")}}),
        "description": "a map whose only key is \"$bin\" or \"$map\" (alone it would read "
                       "back as a tag), written {\"$map\": {<its key>: <its value>}}"},
    "Tagged": {
        "description": "an untyped value (contract data): JSON, with every byte string "
                       "written {\"$bin\": \"<lowercase hex>\"}",
        "anyOf": [
            {"type": ["null", "boolean", "integer", "string"]},
            ref("TaggedBytes"),
            ref("TaggedEscape"),
            array(ref("Tagged")),
            # A map whose only key is "$bin" or "$map" is a tag, never a map as it is.
            {"type": "object", "additionalProperties": ref("Tagged"),
             "not": {"maxProperties": 1,
                     "anyOf": [{"required": ["$bin"]}, {"required": ["$map"]}]}},
        ]},
    "Plain": {"description": "a plain JSON value, no bytes in it"},
    "Error": obj({"error": {"type": "string", "minLength": 1}},
                 description="why the request failed"),
}
ERROR = ref("Error")

# ---- the answers of shell.api's routes ----------------------------------------------------

_TX_RESULT = obj({
    "tx_id": {"type": "string", "pattern": "^(?:[0-9a-f]{64})?$",
              "description": "the transaction's id; empty when it could not be decoded"},
    "accepted": FLAG,
    "reason": {"type": "string", "description": "why it was refused (empty if accepted)"}})
_COMMITTED = {"tx_id": ref("Hash"), "status": {"const": "committed"}, "height": COUNT,
              "index": COUNT}
_REASON = obj(
    {"reason": TEXT, "records": array(TEXT, description="the state keys that decide it")},
    {"deadline_ms": COUNT,
     "as": {"type": "string", "description": "a conflict: who the entity is to the tender"},
     "blocking": array(obj({"record": TEXT, "kind": TEXT, "until_ms": COUNT})),
     "missing": array(obj({"category": TEXT, "level": COUNT}))})
_EXPOSURE_RECORD = obj({
    "id": TEXT,
    **{name: ref("Tagged") for name in EXPOSURE_FIELDS},
    **{name: COUNT for name in ("from_ms", "to_ms", "recorded_ms") if name in EXPOSURE_FIELDS},
    **{name: ref("TaggedBytes") for name in ("issuer", "evidence_hash")
       if name in EXPOSURE_FIELDS}},
    description="a sanction record's public fields (contracts.exposure.PUBLIC_FIELDS)")

_ITEM = {"cursor": TEXT, "type": TEXT, "height": COUNT, "time_ms": COUNT,
         "tender_id": nullable(TEXT), "regions": array(TEXT), "kinds": array(TEXT),
         "entities": array(TEXT)}

_ANSWERS: dict[str, dict[str, Any]] = {
    "TxSubmission": {
        "description": "CE-encoded signed transactions, hex: several (`txs`) or one (`tx`); "
                       "at most the node's max_txs_per_request",
        "type": "object", "properties": {"txs": array(ref("Hex"), minItems=1),
                                         "tx": ref("Hex")},
        "anyOf": [{"required": ["txs"]}, {"required": ["tx"]}]},
    "TxResults": obj({"accepted": COUNT, "results": array(_TX_RESULT)},
                     description="each transaction admitted or refused, in the order sent"),
    "TxStatus": {"anyOf": [
        obj({**_COMMITTED, "receipt": ref("Receipt"), "tx": ref("Tx")},
            description="committed, shown to this reader"),
        obj({**_COMMITTED, "withheld": TEXT},
            description="committed; an entity's own act, withheld from this reader"),
        obj({"tx_id": ref("Hash"), "status": {"const": "pending"}},
            description="in this node's pool")]},
    "TxUnknown": obj({"tx_id": ref("Hash"), "status": {"const": "unknown"}}),
    "CertifiedBlock": obj(
        {"hash": ref("Hash"), "header": ref("Header"), "qc": nullable(ref("QC")),
         "tx_ids": array(ref("Hash")), "receipt_hashes": array(nullable(ref("Hash")))},
        {"block": ref("Block"), "receipts": array(ref("Receipt"))},
        description="`block` and `receipts` for readers shown full blocks (supervisors); "
                    "`qc` null for genesis; a receipt hash null for a transaction withheld "
                    "from this reader"),
    "CertifiedHeader": obj({"hash": ref("Hash"), "header": ref("Header"),
                            "qc": nullable(ref("QC"))},
                           description="`qc` null for genesis"),
    "StateValue": obj({"key": TEXT, "value": ref("Tagged"), "height": COUNT},
                      description="the head value (`height`: the head)"),
    "StateAbsent": obj({"key": TEXT, "value": {"type": "null"}, "height": COUNT}),
    "Slots": obj({"tender_id": TEXT, "lot": COUNT,
                  "slots": array(ref("Hash"), description="each live bid's slot"),
                  "height": COUNT}),
    "Eligibility": obj({
        "question": obj({"uscc": TEXT, "tender_id": TEXT, "lot": COUNT}),
        "bundle": ref("Multi"),
        "answer": obj({"eligible": FLAG, "reasons": array(_REASON), "at_ms": COUNT})},
        description="the answer, and the §9 bundle of every record the rule reads"),
    "ExposurePage": obj({"records": array(_EXPOSURE_RECORD),
                         "next_cursor": nullable(COUNT), "scanned": COUNT}),
    "Status": obj({
        "chain_id": TEXT, "suite": TEXT, "node": TEXT,
        "index": nullable(COUNT), "seat": nullable(COUNT), "height": COUNT,
        "head_hash": ref("Hash"),
        "view": COUNT, "leader": COUNT, "passed_over": array(COUNT),
        "in_view_change": FLAG, "abstaining": FLAG,
        "validators": COUNT, "peers": array(COUNT),
        "peer_heights": {"type": "object", "additionalProperties": COUNT},
        "catching_up": FLAG, "pool_size": COUNT, "heartbeat_ms": COUNT,
        "last_block_time_ms": COUNT, "last_block_time": TEXT,
        "base_height": COUNT, "oldest_height": COUNT}),
    "Health": obj({"ok": FLAG, "reason": TEXT}),
    "EventItem": {"description": "one item of the event stream (shell/EVENTS.md): a chain "
                                 "event (`source: chain`) or a derived deadline notice "
                                 "(`source: derived`)",
                  "anyOf": [obj({**_ITEM, "source": {"const": "chain"}, "tx_id": ref("Hash"),
                                 "call": TEXT, "event_index": COUNT, "event": ref("Tagged")}),
                            obj({**_ITEM, "source": {"const": "derived"},
                                 "deadline_ms": COUNT, "before_ms": COUNT,
                                 "threshold_ms": COUNT,
                                 "proof": obj({"state_key": TEXT, "heights": array(
                                     COUNT, minItems=2, maxItems=2)})})]},
    "EventPage": obj({"head": COUNT, "items": array(ref("EventItem")),
                      "next": {**TEXT, "description": "the cursor to resume after"}}),
    "EventProof": {"anyOf": [
        obj({"item": ref("EventItem"), "inclusion": ref("Inclusion")},
            description="a chain event and the §8 bundle of its transaction"),
        obj({"item": ref("EventItem"), "before": nullable(ref("Bundle")),
             "at": ref("Bundle")},
            description="a notice and its tender record's §7 bundles after the block before "
                        "and after its own block")]},
    "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    **_BASICS,
    **{name: from_jsonform(form, named=False) for name, form in JSONFORM_NAMES},
    **_ANSWERS,
}

# ---- what the middleware may answer on any route -------------------------------------------

MIDDLEWARE: dict[str, tuple[str, str]] = {
    "400": ("BadInput", "bad input: the reason (a parameter, a body, a signed request's body)"),
    "401": ("Unauthorized", "a signed request refused: the reason (shell/readers.py)"),
    "413": ("TooLarge", "the request's body is over the node's max_request_bytes"),
    "415": ("UnsupportedEncoding", "a Content-Encoding other than identity"),
    "429": ("RateLimited", "over this client's request or request-bytes budget; retry later"),
    "500": ("InternalError", "internal error (the node logs it)"),
    "503": ("StoreFault", "store fault: this node's data is damaged; ask another node"),
}


def _content(content_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {content_type: {"schema": dict(schema)}}


def _responses(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, spec in route.responses.items():
        answer: dict[str, Any] = {"description": spec["description"]}
        content_type = spec.get("content_type", JSON)
        schema = spec.get("schema")
        if code in MIDDLEWARE and content_type == JSON:
            # The middleware may answer this status with an error object on any route.
            schema = ERROR if schema in (None, ERROR) else {"anyOf": [schema, ERROR]}
        if schema is not None:
            types = (content_type,) if isinstance(content_type, str) else content_type
            answer["content"] = {t: {"schema": dict(schema)} for t in types}
        out[code] = answer
    for code, (name, _) in MIDDLEWARE.items():
        out.setdefault(code, {"$ref": _RESPONSES + name})
    return dict(sorted(out.items()))


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "responses": _responses(r)}
        if r.params:
            op["parameters"] = list(r.params)
        if r.request is not None:
            op["requestBody"] = {"required": True, "content": _content(JSON, r.request)}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "credchain node API", "version": "1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {name: {"description": text, "content": _content(JSON, ERROR)}
                          for name, text in MIDDLEWARE.values()},
        },
    }
