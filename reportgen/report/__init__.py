"""The report: figures, HTML, PDF."""
