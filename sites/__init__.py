"""The simulated sources: one local HTTP server that answers like Weibo, Bilibili, Reddit, JD, Xiaohongshu and a
generic review site, so spiders, tests and `make demo` run with no network. See `sites.server.Simulator`."""

from sites.faults import Faults
from sites.server import Simulator

__all__ = ["Faults", "Simulator"]
