-- Run once by the postgres image, in database app, when its data volume is first initialised.
-- pg_stat_statements is preloaded by the server's command line (docker-compose.yml); this makes
-- its view available to `cv-evaluator maint check` (postgres.slow_queries) and postgres-exporter.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
