"""The Scrapy project: spiders, the mention item, settings."""
