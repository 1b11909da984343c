"""Turning one session's rrweb event stream into derived ("autotracked") events: page views,
clicks, inputs, submits, scroll depth, custom events, errors and the rage, dead and error click
signals. Pure Python: no I/O, no database, no async; the worker that stores the events is
elsewhere."""
