"""`POST /ingest`: recordings from the tracking snippet."""
