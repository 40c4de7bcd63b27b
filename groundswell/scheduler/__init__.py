"""`groundswell run`: the long-running service that schedules crawls, alert evaluation, digests, engagement
revisits and retention (APScheduler 3 with a SQLAlchemy job store).

plan.py says which jobs the configuration wants (pure), children.py runs a crawl in a child process under a time
limit, runs.py records every job run in Elasticsearch, jobs.py holds the job functions the store refers to by
module path, and service.py puts them together.
"""
