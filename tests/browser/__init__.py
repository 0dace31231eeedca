"""The portal's browser tests (Debian's Chromium driven by Playwright) and their support: a
demo chain served by a real node (``demochain``), page helpers (``pagekit``) and the figures
script for a running network (``measure_demo``)."""
