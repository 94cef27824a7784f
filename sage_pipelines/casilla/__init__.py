"""Casillas: the SAGE YAML that describes a data box, and readers that stream its uploads.

`parser` / `model` (the SAGE YAML), `readers` (one upload's files, CSV / Excel / ZIP members, as
Arrow record batches of the declared schema: `csv_reader`, `excel_reader`, `convert`,
`encoding`, `header`), `inference` (types and key candidates for `sage analyze`). Depends on
the core only.
"""
