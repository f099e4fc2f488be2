"""The HTTP face: ingest routes, the JSON API, the dashboard pages. Thin: it calls the domain."""
