"""Vaccine products and schedules."""
