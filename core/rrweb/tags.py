"""The tags of the rrweb Custom events (`EventType.Custom`) that Sightline writes and reads.

The snippet (api/static/sightline.js) records `PAGE`, `NAVIGATION` and `FLUSH` itself; ingestion
turns the batch's custom events into `TRACK` and its errors into `ERROR`; extraction
reads all of them. Renaming one here renames it on both sides of the stored stream;
tests/test_wire_constants.py checks that the snippet uses these names.
"""

TRACK = "sightline.track"
ERROR = "sightline.error"
NAVIGATION = "sightline.navigation"
PAGE = "sightline.page"
SUBMIT = "sightline.submit"
# The snippet's filler for a batch holding only custom events or errors (a batch needs one
# rrweb event); nothing reads it.
FLUSH = "sightline.flush"

ALL = frozenset({TRACK, ERROR, NAVIGATION, PAGE, SUBMIT, FLUSH})
