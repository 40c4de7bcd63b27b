"""What each platform's real protocol asks of a client, as pure functions: signatures, tokens, headers.

Each module names the public reference it follows, so a change on the platform can be checked against it.
"""
