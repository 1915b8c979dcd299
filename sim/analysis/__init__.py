"""Analysing saved results: summaries, plots, reports, comparisons and parameter studies."""
