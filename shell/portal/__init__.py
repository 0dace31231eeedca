"""The disclosure portal (公开透明): server-rendered pages every node can serve read-only
under ``/portal/``, for the public to read tenders, entities, the exposure list and
guarantees, and to check each record against the chain in the browser with the JS verifier
(``shell/web/verify``) and a trust anchor they load from another source.

Modules: ``routes`` (the route table and the ``limits.portal_enabled`` switch), ``reads``
(every read, asked of ``contracts.disclosure`` first), ``tenders``, ``tender_page`` and
``timeline``, ``entity_page``, ``exposure`` (the one swappable query) and ``exposure_page``,
``guarantee_page``, ``tools_page`` (offline check, trust anchor), ``txindex`` (the tender
transactions a timeline proves), ``layout`` (the page frame and verify actions), ``markup``
(HTML that escapes every text), ``text`` (Chinese and English words, Beijing time, yuan),
``inputs`` (what a URL may say). The browser side is in ``shell/web/portal``.
"""
