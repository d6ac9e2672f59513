"""Analysis: group statistics, findings and the facts table."""
