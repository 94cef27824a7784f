"""`sage serve [--host 127.0.0.1] [--port 8080]`: the console and REST API on this SAGE_HOME."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the console and REST API (FastAPI + uvicorn) on this SAGE_HOME")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(handler="serve:serve")
