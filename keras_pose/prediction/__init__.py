"""The library side of ``predict.py``: inputs keyed by relative path, checked
outputs, images, videos and tracked frame folders."""
