"""The composition root: builds the HTTP application from configuration."""
