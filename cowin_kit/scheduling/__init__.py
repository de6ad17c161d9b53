"""Facilities and vaccination sessions."""
