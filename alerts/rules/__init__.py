"""Alert rules: the common frame of a rule type (base), one module per type (kinds), the registry that reads and
evaluates rules, the shipped defaults, and what an evaluation knows (context)."""
