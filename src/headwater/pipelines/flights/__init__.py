"""Seed 003: flights (an airline's bookings, tickets, flights, seats and boarding passes)."""
