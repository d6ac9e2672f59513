"""The report's HTML, rendered from ``templates/`` with Jinja2 (autoescape on)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reportgen.resources import templates_dir


def environment() -> Environment:
    """The Jinja environment of the templates folder in use; one per folder, so the compiled
    template is reused (Jinja recompiles a template whose file changed)."""
    return _environment(str(templates_dir()))


@lru_cache(maxsize=4)
def _environment(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html", "j2", "html.j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(context: dict) -> str:
    """Render ``report.html.j2`` with ``context`` (see ``report.context.build_context``)."""
    return environment().get_template("report.html.j2").render(**context)
