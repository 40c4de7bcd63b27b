"""One module per rule type, each with its spec (the YAML `type:`), the query that reads the store and a pure
judge over the query's results, registered by a module-level `KIND`. alerts.rules.registry finds them here, so a
new rule type is a new module in this package and nothing else."""
