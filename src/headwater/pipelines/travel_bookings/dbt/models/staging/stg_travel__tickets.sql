-- Typed, renamed columns of the raw ticket table; names, types and descriptions are
-- declared in _staging__models.yml.
-- booking_price is DOUBLE when the source is SQLite, NUMERIC(12,2) from Postgres: one type here.

{{ headwater_common.stage(source('travel', 'ticket')) }}
