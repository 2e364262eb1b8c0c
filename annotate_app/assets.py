"""The components' browser files: each one's JS and CSS come after what all of them share
(``common.js``, ``common.css``), inlined, with no build step."""

from __future__ import annotations

from importlib import resources

_FILES = resources.files("annotate_app")


def component_files(name: str, *parts: str) -> dict[str, str]:
    """``js`` and ``css`` for ``st.components.v2.component``: the shared part, the helper
    ``parts`` (``pairs``: the pairwise task), then NAME's. A part may lack a CSS file."""
    files = ("common", *parts, name)
    return {
        kind: "\n".join(
            (_FILES / f"{part}.{kind}").read_text(encoding="utf-8")
            for part in files
            if (_FILES / f"{part}.{kind}").is_file()
        )
        for kind in ("js", "css")
    }
