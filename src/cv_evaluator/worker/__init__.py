"""Workers: claim jobs, evaluate them, record the outcome; retries and graceful shutdown."""
