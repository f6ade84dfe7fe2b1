-- Typed, renamed columns of the raw bookings table; names, types and descriptions are
-- declared in _staging__models.yml.
-- total_amount is DOUBLE when the source is SQLite, NUMERIC(12,2) from Postgres: one type here.

{{ headwater_common.stage(source('flights', 'bookings')) }}
