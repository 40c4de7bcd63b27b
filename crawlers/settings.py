"""Scrapy settings for Groundswell. GROUNDSWELL_STAGES reads top to bottom as the data flows; crawls run it through
one batching item pipeline and `groundswell ingest` builds the very same chain from it (pipelines.chain)."""

BOT_NAME = "groundswell"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# polite by default
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
USER_AGENT = "Groundswell brand monitor (+https://groundswell.invalid/bot)"

DOWNLOADER_MIDDLEWARES = {
    # responses pass middlewares from high to low numbers: this one sees a 429/503 before RetryMiddleware
    # (550), waits as long as the site asks, and re-sends
    "crawlers.middlewares.RetryAfterMiddleware": 560,
    # Scrapy's retries, with exponential backoff between them (crawlers.middlewares)
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    # sets each request's session cookie from the platform's accounts and retires an account at the login wall
    "crawlers.accounts.AccountRotation": 650,
    # a platform's block answer (432, 403, a login redirect...) closes the crawl as `blocked` before the retry
    # (550/560) and redirect (600) middlewares see it: a block is never retried nor followed
    "crawlers.blocks.BlockDetection": 640,
    # X-Ratelimit-Remaining/Reset (Reddit's API): wait for the window to reset rather than run into 429
    "crawlers.ratelimit.RateLimitHeaders": 645,
    # a worker's crawl (groundswell worker): per-domain pacing, Retry-After and rate-limit windows shared by all
    # workers in Redis; it sees a 429's Retry-After before RetryAfterMiddleware (560) re-sends. Off elsewhere.
    "crawlers.redis_politeness.SharedPoliteness": 570,
}
RETRY_AFTER_MAX_WAIT = 120.0
RETRY_AFTER_TIMES = 3
RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry; doubled for each further one
RETRY_BACKOFF_MAX = 30.0

# Each spider's host; `-a base_url=...` overrides it (the simulator and the tests do).
WEIBO_BASE_URL = "https://m.weibo.cn"
BILIBILI_BASE_URL = "https://api.bilibili.com"
REDDIT_BASE_URL = "https://www.reddit.com"
JD_BASE_URL = "https://club.jd.com"
XIAOHONGSHU_BASE_URL = "https://www.xiaohongshu.com"

EXTENSIONS = {"crawlers.extensions.CrawlHealth": 500}  # one crawl-runs record per run (crawler health)
# The analysis chain, in the order the data flows. A crawl runs it through its one item pipeline, in batches off
# the reactor thread (pipelines.batching); `groundswell ingest` builds the very same stages (pipelines.chain).
GROUNDSWELL_STAGES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.brands.BrandMatchPipeline": 200,
    "pipelines.near_duplicates.NearDuplicatePipeline": 300,  # cluster ids resolved per batch at 900
    "pipelines.sentiment.SentimentPipeline": 400,
    "pipelines.complaint_stage.ComplaintPipeline": 500,
    "pipelines.document.DocumentPipeline": 800,  # the stored form, built beside the analysis (last before the sink)
    "pipelines.elasticsearch.ElasticsearchPipeline": 900,
}
ITEM_PIPELINES = {"pipelines.batching.BatchingPipeline": 100}
GROUNDSWELL_CRAWL_BATCH = 100  # items per batch in a crawl, at most
GROUNDSWELL_CRAWL_BATCH_WAIT = 1.0  # seconds the first item of a batch waits for the others, at most
GROUNDSWELL_CRAWL_WORKERS = 0  # analysis processes per crawl (0: the batch thread analyses; a crawl stays small)

# Groundswell's own settings
GROUNDSWELL_CONFIG_PATH = None  # None: --config / GROUNDSWELL_CONFIG / ./groundswell.yaml / defaults
GROUNDSWELL_BATCH_SIZE = 500
GROUNDSWELL_ES_RETRIES = 3
GROUNDSWELL_ES_BACKOFF = 0.5

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_FORMATTER = "crawlers.logformatter.QuietDrops"
# Scrapy reads each callback's source with inspect and ast to warn about a generator returning a value; its cache
# is keyed weakly by the callable, which a bound method (a new object at every request) never hits: ~0.2 ms of the
# reactor thread per response. Our spiders' callbacks are ours and tested; the check is off.
WARN_ON_GENERATOR_RETURN_VALUE = False
