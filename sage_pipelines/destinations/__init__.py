"""Destinations: where materialized tables live. One module (or folder) per kind, one interface."""
