"""Use cases: upload, submit an evaluation, read a result, build an evaluation request."""
