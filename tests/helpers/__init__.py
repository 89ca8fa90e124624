"""Shared test helpers, imported as ``helpers.<module>`` (pyproject puts tests/ on sys.path)."""
