"""Queue adapters: how committed jobs reach workers."""
