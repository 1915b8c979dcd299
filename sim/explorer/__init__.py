"""The interactive explorer (Solara): `logic` holds what the page does, `app` is the page."""
