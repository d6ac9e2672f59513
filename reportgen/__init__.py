"""reportgen: quantitative, plain-language reports on classifier explanation heatmaps."""

__version__ = "0.1.0"

__all__ = ["__version__"]
