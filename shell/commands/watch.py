"""``credchain watch``: follow a node's event stream, print notices, forward them as webhooks.

It reads ``GET /events/stream`` with the filters given (``shell.sse.follow``: on any
failure it reconnects, to the next ``--url`` in turn, with the last cursor), prints each
item in Beijing time, in Chinese and English (or ``--json``: one JSON line per item), and
with ``--post`` forwards each as a signed webhook (``shell.webhook``) before going on.

``--cursor-file``: the last cursor handled (and the chain's id) is written there after each
item is printed and posted, and with each heartbeat (atomically: a temporary file, fsync,
rename). A restart resumes right after it: nothing is skipped, and an item is handled again
only if ``watch`` stopped between handling it and saving its cursor (then the webhook
carries the same idempotency key). ``--verify``: each item is fetched with its proof
(``GET /events/{cursor}``) and checked offline against ``--anchor`` before it is shown;
an item that fails stops ``watch`` without saving its cursor.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from shell.commands.common import DEFAULT_URL, HTTP_URL, fail


@click.command()
@click.option("--url", "urls", multiple=True, default=[DEFAULT_URL], show_default=True,
              type=HTTP_URL,
              help="a node's HTTP API; repeat for others to fail over to")
@click.option("--type", "types", multiple=True,
              help="event or notice type, or a prefix: tender.* (repeatable)")
@click.option("--tender", "tenders", multiple=True, help="tender id (repeatable)")
@click.option("--region", "regions", multiple=True, help="region code (repeatable)")
@click.option("--kind", "kinds", multiple=True, help="tender kind (repeatable)")
@click.option("--entity", "entities", multiple=True, help="an entity's USCC (repeatable)")
@click.option("--remind", default=None, help="reminders before deadlines: 3d,1h (default), "
                                             "none")
@click.option("--from-height", type=click.IntRange(min=0),
              help="start with this block (without a cursor file: default now)")
@click.option("--cursor-file", type=click.Path(dir_okay=False),
              help="keep the cursor here; a restart resumes after it")
@click.option("--post", "post_url", type=HTTP_URL,
              help="forward each item to this URL as a webhook")
@click.option("--secret-file", type=click.Path(dir_okay=False, exists=True),
              help="the webhook's HMAC secret: a file only you may read, whose text "
                   "(trailing newline removed) is the key, e.g. from head -c 32 /dev/urandom "
                   "| base64 (shell/EVENTS.md, Webhooks)")
@click.option("--verify", is_flag=True, help="check each item's proof against --anchor")
@click.option("--anchor", type=click.Path(dir_okay=False, exists=True),
              help="the chain's genesis anchor (network init writes anchor.json)")
@click.option("--json", "as_json", is_flag=True, help="one JSON line per item")
@click.option("--count", type=click.IntRange(min=1), help="stop after this many items")
@click.option("--until-head", is_flag=True,
              help="stop once caught up with the node's head when the stream opened")
@click.option("--heartbeat-ms", type=click.IntRange(1_000, 60_000), default=15_000,
              show_default=True)
def watch(urls: tuple[str, ...], types: tuple[str, ...], tenders: tuple[str, ...],
          regions: tuple[str, ...], kinds: tuple[str, ...], entities: tuple[str, ...],
          remind: str | None, from_height: int | None, cursor_file: str | None,
          post_url: str | None, secret_file: str | None, verify: bool, anchor: str | None,
          as_json: bool, count: int | None, until_head: bool, heartbeat_ms: int) -> None:
    """Follow a node's events and deadline notices; print them, or forward them."""
    from ledger.keyfile import read_passphrase_file

    if post_url and not secret_file:
        fail("--post needs --secret-file (the HMAC secret the receiver shares)")
    if verify and not anchor:
        fail("--verify needs --anchor")
    query: dict[str, list[str]] = {"type": list(types), "tender": list(tenders),
                                   "region": list(regions), "kind": list(kinds),
                                   "entity": list(entities),
                                   "heartbeat_ms": [str(heartbeat_ms)]}
    if remind is not None:
        query["remind"] = [remind]
    store = CursorFile(Path(cursor_file)) if cursor_file else None
    if store is not None:
        store.check_writable()  # before the stream opens, not at the first item's save
    saved = store.load() if store else None
    cursor = saved[1] if saved else ""
    if not cursor and from_height is not None:
        query["from_height"] = [str(from_height)]
    job = Watch(list(urls), {k: v for k, v in query.items() if v}, cursor, store,
                saved[0] if saved else None, as_json, count, until_head)
    if post_url:
        job.post_url = post_url
        job.secret = read_passphrase_file(str(secret_file), "webhook secret file")
    if anchor:
        from ledger.genesis import Anchor

        job.anchor = Anchor.load(Path(anchor))
    from shell.sse import StreamError
    from shell.webhook import WebhookRefused

    try:
        asyncio.run(job.run())
    except (StreamError, WebhookRefused) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
    if job.anchor is not None:  # else --verify would look the same as no check at all
        _note(f"{job.handled} items, each checked against its proof and the anchor")


class CursorFile:
    """``{"chain_id", "cursor"}`` in a file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[str, str] | None:
        try:
            got = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            fail(f"cursor file {self.path} is unreadable: {exc}")
        except RecursionError:
            fail(f"cursor file {self.path} is unreadable: JSON nested too deeply")
        if not (isinstance(got, dict) and isinstance(got.get("cursor"), str)
                and isinstance(got.get("chain_id"), str)):
            fail(f"cursor file {self.path} is not a watch cursor")
        return got["chain_id"], got["cursor"]

    def check_writable(self) -> None:
        """Refuse at once a file that could never be saved (user walk: a missing folder was
        a traceback at the first item, after the stream had opened)."""
        folder = self.path.parent
        if not folder.is_dir():
            fail(f"cursor file {self.path}: there is no folder {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            fail(f"cursor file {self.path}: the folder {folder} is not writable")

    def save(self, chain_id: str, cursor: str) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps({"chain_id": chain_id, "cursor": cursor}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class Watch:
    def __init__(self, urls: list[str], query: dict[str, list[str]], cursor: str,
                 store: CursorFile | None, chain_id: str | None, as_json: bool,
                 count: int | None, until_head: bool = False) -> None:
        self.urls = urls
        self.query = query
        self.cursor = cursor
        self.store = store
        self.chain_id = chain_id
        self.as_json = as_json
        self.count = count
        self.until_head = until_head
        self.head: int | None = None  # the head when the stream first opened
        self.handled = 0
        self.post_url: str | None = None
        self.secret = b""
        self.anchor: Any = None
        self.echo: Callable[[str], None] = click.echo  # where items are printed

    async def run(self) -> None:
        import aiohttp

        from shell.sse import follow
        from shell.webhook import Poster

        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=90)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            poster: Poster | None = None
            async for frame in follow(self.urls, self.query, self.cursor, session,
                                      on_retry=_note):
                if frame.event == "hello":
                    hello = frame.json()
                    self._check_chain(hello["chain_id"])
                    if self.post_url and poster is None:
                        poster = Poster(self.post_url, self.secret, hello["chain_id"],
                                        session, on_retry=_note)
                    after = str(hello["after"])
                    where = (f"block {after}" if after.isdigit() else
                             f"item {after}" if after else "the start")
                    _note(f"following {frame.url}: items after {where} (head {hello['head']})")
                    if self.head is None:
                        self.head = int(hello["head"])
                    # where this run starts, kept at once: stopped before its first item or
                    # heartbeat, a restart resumes here, not at a later "now" (user walk)
                    self._save(after or "0")  # "": the start (block 0 holds no item)
                elif frame.event == "message":
                    item = _item(frame.data)
                    if self.anchor is not None:
                        await self._verify(session, frame.url, item)
                    self._show(item)
                    if poster is not None:
                        await poster.deliver(item["cursor"], frame.data.encode())
                    self._save(item["cursor"])
                    self.handled += 1
                    if self.count is not None and self.handled >= self.count:
                        return
                elif frame.event == "heartbeat":
                    self._save(frame.id)
                    if (self.until_head and self.head is not None
                            and int(frame.json().get("height", -1)) >= self.head):
                        return  # every block up to the head is walked
                elif frame.event == "cutoff":
                    _note(f"the node ended the stream: {frame.json().get('reason')}")

    def _check_chain(self, chain_id: str) -> None:
        if self.chain_id is not None and self.chain_id != chain_id:
            fail(f"the cursor file is for chain {self.chain_id!r}, the node serves "
                 f"{chain_id!r}")
        self.chain_id = chain_id

    def _save(self, cursor: str) -> None:
        if cursor and cursor != self.cursor:
            self.cursor = cursor
            if self.store is not None and self.chain_id is not None:
                self.store.save(self.chain_id, cursor)

    async def _verify(self, session: Any, url: str, item: dict[str, Any]) -> None:
        from shell.eventproof import check_proof

        async with session.get(f"{url}/events/{item['cursor']}") as resp:
            doc = await resp.json(content_type=None)
        check = check_proof(doc, self.anchor)
        if not check.ok or doc.get("item") != item:
            fail(f"item {item['cursor']} from {url} does not match its proof: "
                 f"{'; '.join(check.problems) or 'another item'}")

    def _show(self, item: dict[str, Any]) -> None:
        if self.as_json:
            self.echo(json.dumps(item, ensure_ascii=False, sort_keys=True))
        else:
            self.echo(render_line(item))


def _item(data: str) -> dict[str, Any]:
    try:
        item = json.loads(data)
    except (ValueError, RecursionError):
        item = None
    if not isinstance(item, dict) or not isinstance(item.get("cursor"), str):
        fail(f"the node sent an item that is not a stream item: {data[:80]!r}")
    return item


def _note(text: str) -> None:
    print(f"watch: {text}", file=sys.stderr, flush=True)


def render_line(item: dict[str, Any]) -> str:
    """One item for people: Beijing time, the Chinese and English title, what it concerns,
    its fields (times in Beijing time, money in yuan), and its cursor."""
    from ledger.verdict import beijing_time
    from shell.eventdoc import TITLES
    from shell.eventkit import duration_text

    zh, en = TITLES.get(item["type"], (item["type"], ""))
    scope = [("全部 all" if v == "*" else v) for v in [*item.get("kinds", []),
                                                      *item.get("regions", [])]]
    about = " · ".join([*([item["tender_id"]] if item.get("tender_id") else []), *scope])
    parts = [beijing_time(int(item["time_ms"])), f"{zh} | {en}" if en else zh]
    if about:
        parts.append(f"[{about}]")
    if item.get("source") == "derived" and "n" in item:  # notice.objection
        parts.append(f"异议 objection {item['n']} ({item.get('stage')})")
    elif item.get("source") == "derived":
        parts.append(f"截止 deadline {beijing_time(int(item['deadline_ms']))}")
        if item["before_ms"]:
            parts.append(f"还有 in {duration_text(int(item['before_ms']))}")
    else:
        event = {k: v for k, v in item.get("event", {}).items()
                 if k not in ("type", "tender_id")}
        parts += [_field(k, v) for k, v in sorted(event.items())]
    parts.append(f"#{item['cursor']}")
    return "  ".join(parts)


def _field(name: str, value: Any) -> str:
    from ledger.verdict import beijing_time

    if name.endswith("_ms") and isinstance(value, int):
        return f"{name}={beijing_time(value)}"
    if name.endswith("_fen") and isinstance(value, int):
        return f"{name[:-4]}={value / 100:,.2f} 元"
    if isinstance(value, dict) and set(value) == {"$bin"}:
        return f"{name}={str(value['$bin'])[:16]}…"
    return f"{name}={json.dumps(value, ensure_ascii=False)}"
