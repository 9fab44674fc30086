"""Bundled demo data: twelve fictional cases with synthetic images (see make_demo.py)."""
