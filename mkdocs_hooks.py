"""MkDocs hook (mkdocs.yml ``hooks``): the docstrings' Sphinx roles as plain code.

The docstrings cross-reference in Sphinx style (:class:`~.carrier.core.Carrier`, :func:`cid`), which
Markdown renders as the role's name followed by code. The API reference shows the code only, with
Sphinx's ``~`` (show the last component) applied.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def on_page_content(html: str, **_kwargs) -> str:
    return _ROLE.sub(_code, html)
