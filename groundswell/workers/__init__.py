"""Crawl workers on Redis: `groundswell worker` processes on any hosts take the crawls `groundswell run` enqueues.

queue.py holds the units waiting and who crawls what, worker.py is the worker process, dispatch.py is the
scheduler's side (enqueue a source's crawl, wait for its units, one job run from their results).
"""
