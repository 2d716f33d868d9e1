"""Great Expectations data docs as one self-contained HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence

from great_expectations.render.renderer import ValidationResultsPageRenderer
from great_expectations.render.view import DefaultJinjaPageView

from .validation import TableValidation


def render_data_docs(validations: Sequence[TableValidation], *, title: str) -> str:
    """Return an HTML page holding GX's data-docs page of every validation result.

    Each page is rendered as GX's data-docs site builder does it
    (``ValidationResultsPageRenderer`` + ``DefaultJinjaPageView``) and embedded in an
    ``<iframe srcdoc>``, so one file carries all suites of a stage.
    """
    view, renderer = DefaultJinjaPageView(), ValidationResultsPageRenderer()
    sections = []
    for validation in validations:
        page = view.render(renderer.render(validation.result))
        verdict = "passed" if validation.success else "FAILED"
        sections.append(
            f"<h2>{html.escape(validation.name)}: {verdict}</h2>\n"
            f'<iframe srcdoc="{html.escape(page, quote=True)}" '
            'style="width:100%;height:900px;border:1px solid #ccc"></iframe>'
        )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head>\n<body style='font-family:sans-serif'>\n<h1>{html.escape(title)}</h1>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
