"""The sentiment model: its corpora (data/, corpora.py), features (features.py), trainer (train.py) and the trained
weights it writes (model.npy, memory-mapped by pipelines/sentiment.py, and model.json)."""
