"""Browser-like request headers. Chinese platforms refuse or throttle clients that do not look like a browser
(Bilibili documents "User-Agent 不含敏感子串", Weibo answers 432), and every peer crawler sends one; so the spiders
of those platforms send a current browser's User-Agent. Reddit is the exception: its API rules ask for an honest,
descriptive User-Agent (crawlers.platforms.reddit_oauth)."""

DESKTOP_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
)
MOBILE_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
ACCEPT_JSON = "application/json, text/plain, */*"
ACCEPT_LANGUAGE = "zh-CN,zh;q=0.9,en;q=0.8"
