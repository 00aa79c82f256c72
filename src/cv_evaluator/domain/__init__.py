"""Entities, value objects, errors and ports. Imports nothing else of the project."""
