"""Casillas: the SAGE YAML that describes a data box, and readers that stream its uploads."""
