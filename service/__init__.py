"""What both interfaces (`api/` and `graph/`) share: the handles a process holds, who is
calling, and what they may touch. It builds on `core/`, `storage/` and the workers' queue,
and knows neither HTTP routes nor GraphQL."""
