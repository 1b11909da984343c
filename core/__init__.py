"""Pieces every process of Sightline shares: configuration and logging."""
