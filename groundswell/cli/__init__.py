"""The `groundswell` command line: one module per command group."""
