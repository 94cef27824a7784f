"""The `sage` command groups' arguments, one module per group, each with `register(subparsers)`.

`sage --help` builds every group's parser, so a module here imports only what a parser needs:
argparse, and the words a choice offers (from the module that defines them). Each command names
the function that runs it with `set_defaults(handler="<module>:<function>")`, a module of
`handlers/`.
"""
