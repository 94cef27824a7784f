"""`sage serve`: `api.app.create_app` on uvicorn, logs redacted."""

from __future__ import annotations

import argparse

import uvicorn

from sage_pipelines.api.app import API_PREFIX, create_app
from sage_pipelines.security import install_log_redaction
from sage_pipelines.services.home import ready_home


def serve(args: argparse.Namespace) -> int:
    home = ready_home()
    app = create_app(home)
    install_log_redaction()
    print(f"SAGE console on http://{args.host}:{args.port}/ (API {API_PREFIX}, docs {API_PREFIX}/docs; "
          f"SAGE_HOME={home.root}); a token: `sage tokens create USER`", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False)
    return 0
