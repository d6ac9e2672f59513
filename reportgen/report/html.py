"""The report's HTML, rendered from ``templates/`` with Jinja2 (autoescape on)."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reportgen.resources import templates_dir


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html", "j2", "html.j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(context: dict) -> str:
    """Render ``report.html.j2`` with ``context`` (see ``report.context.build_context``)."""
    return environment().get_template("report.html.j2").render(**context)
