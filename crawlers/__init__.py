"""The Scrapy project: spiders, the mention item, settings."""

from __future__ import annotations


def _offline_public_suffixes() -> None:
    """Scrapy's cookie middleware asks tldextract for the public-suffix list, which by default downloads it on first
    use (and logs a traceback when it cannot). The list bundled with tldextract is enough to scope cookies, and a
    crawler should not dial out to a third host for it: use the bundled one."""
    try:
        from scrapy.downloadermiddlewares import cookies
        from tldextract import TLDExtract
    except ImportError:
        return
    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


_offline_public_suffixes()
