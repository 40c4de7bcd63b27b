"""Pure parsers for crawled responses: decoded payload (and crawl time) in, Mentions and the next cursor out.

Spiders only fetch, follow cursors and stop; everything a saved response can test lives here.
"""

from crawlers.parsers.common import Blocked, LoginWall, ParseError, SearchPage

__all__ = ["Blocked", "LoginWall", "ParseError", "SearchPage"]
