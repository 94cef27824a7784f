"""`sage serve [--host 127.0.0.1] [--port 8080]`: the console and REST API on this SAGE_HOME."""

from __future__ import annotations

import argparse

import uvicorn

from sage_pipelines.api.app import API_PREFIX, create_app
from sage_pipelines.security import install_log_redaction
from sage_pipelines.services.home import ready_home


def _cmd_serve(args: argparse.Namespace) -> int:
    home = ready_home()
    app = create_app(home)
    install_log_redaction()
    print(f"SAGE console on http://{args.host}:{args.port}/ (API {API_PREFIX}, docs {API_PREFIX}/docs; "
          f"SAGE_HOME={home.root}); a token: `sage tokens create USER`", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the console and REST API (FastAPI + uvicorn) on this SAGE_HOME")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=_cmd_serve)
