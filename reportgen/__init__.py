"""reportgen: quantitative, plain-language reports on classifier explanation heatmaps."""

__version__ = "0.1.0"

__all__ = ["Report", "__version__", "evaluate"]


def __getattr__(name: str):
    # Lazy: `import reportgen` stays light (no torch) until the API is used.
    if name in ("evaluate", "Report"):
        from reportgen import api

        return getattr(api, name)
    raise AttributeError(f"module 'reportgen' has no attribute {name!r}")
