"""Pure-Python understanding of rrweb recordings: event enums, a mirror of the recorded DOM,
a CSS selector subset matched against it, and server-side privacy enforcement."""
