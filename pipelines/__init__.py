"""Item pipelines and the pure analysis functions they wrap; the same chain serves crawls and ingest."""
