"""Reporting: the typed record of a package's run, the JSON reports, the timeline and the analysis."""
