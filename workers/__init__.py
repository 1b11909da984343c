"""Background jobs on Redis queues (arq), behind the interface in `workers.queue`."""
