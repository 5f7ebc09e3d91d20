"""The HTTP API (DESIGN 9): `app` assembles the application (inspection, admin writes,
contributed views, dashboard, /events, gossip; its docstring maps the modules); `metrics` is
GET /metrics; `client` is the small synchronous client the CLI and testbed read nodes with."""
