"""SQLAlchemy adapters: tables, unit of work, the job ledger, migrations; and upload files."""
