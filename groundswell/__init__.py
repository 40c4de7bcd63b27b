"""Groundswell: hears complaints about a brand while they are still small."""

__version__ = "0.1.0"
