"""HTTP adapter: the FastAPI application, its routes, middleware and error mapping."""
