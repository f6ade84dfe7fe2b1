"""Seed 000: travel bookings."""
