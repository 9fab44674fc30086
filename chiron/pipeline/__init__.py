"""`task=pipeline`: the whole chain as one run, each stage's result stored and reused by key."""
