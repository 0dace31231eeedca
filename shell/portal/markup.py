"""HTML built so that a record's text can only ever be text: ``Markup`` and ``el``.

Every string that reaches a page goes through ``el`` (or ``text``), which escapes it, unless
it is already ``Markup`` — and ``Markup`` is only ever made here, from escaped text or from
elements built here. Attribute values are escaped and quoted; attribute *names* and tag
names come from the portal's own code and are checked against a strict pattern, so a value
from the chain can't become a name. A record holding ``<script>`` shows as those characters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import TypeAlias

_NAME = re.compile(r"[a-z][a-z0-9-]*")
VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})


class Markup(str):
    """HTML that is safe to write as it is (made only by this module)."""

    __slots__ = ()


Child: TypeAlias = Markup | str | int | None | Iterable["Child"]
AttrValue: TypeAlias = str | int | bool | None


def text(value: object) -> Markup:
    """``value`` as text: every ``<``, ``>``, ``&`` and quote escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _children(items: Iterable[Child]) -> str:
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (str, int)):
            out.append(text(item))
        else:
            out.append(_children(item))
    return "".join(out)


def _attrs(attrs: Mapping[str, AttrValue]) -> str:
    out: list[str] = []
    for name, value in attrs.items():
        name = name.rstrip("_").replace("_", "-")  # class_ → class, aria_live → aria-live
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad attribute name {name!r}")
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{html.escape(str(value), quote=True)}"')
    return "".join(out)


def el(tag: str, attrs: Mapping[str, AttrValue] | None = None, *children: Child) -> Markup:
    """``<tag attrs>children</tag>``, every text escaped."""
    if not _NAME.fullmatch(tag):
        raise ValueError(f"bad tag name {tag!r}")
    opening = f"<{tag}{_attrs(attrs or {})}>"
    if tag in VOID:
        if children:
            raise ValueError(f"<{tag}> has no children")
        return Markup(opening)
    return Markup(f"{opening}{_children(children)}</{tag}>")


def join(*parts: Child) -> Markup:
    """Several fragments as one, each text escaped."""
    return Markup(_children(parts))


def document(lang: str, head: Child, body: Child) -> str:
    """A whole HTML5 page."""
    return "<!DOCTYPE html>\n" + el("html", {"lang": lang}, el("head", None, head),
                                    el("body", None, body))
