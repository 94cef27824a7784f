"""The REST API under `/api/v1` and the one ASGI app (`app.create_app`) that `sage serve` runs.

Every handler authenticates a bearer token and checks one permission (`deps.permit`, over
`services.auth.admit`), sets the actor for the audit, then calls the same service function the
CLI calls and answers with what it returns: no rule lives here. User mistakes become
`{"error": {"code", "message", "field"}}` with the CLI's one-line message (`errors`).

One module per entity, each with a `router`; `routes.api_router` gathers them.

The pages (`sage_pipelines.web`, one layer below) import nothing from this package: they use
`services.auth` (`admit`, `authenticate`, `PERMISSIONS`), `services.audit` (`set_actor`,
`Actor`) and the store like any other caller, and find the installation in
`request.app.state.home` (a `SageHome`), which `create_app` sets.
"""
