"""Extraction: windows, the fetch loop, routing events to entities, and writing Bronze parts."""
