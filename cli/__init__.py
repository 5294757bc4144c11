"""The `nurture` command line (ingest, check, eval, serve): outside `api/`, which is HTTP only."""
