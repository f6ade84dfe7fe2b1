-- Typed, renamed columns of the raw tickets table; names, types and descriptions are
-- declared in _staging__models.yml.
-- contact_data is JSON text with name, phone and email; parsed in dim_passenger.

{{ headwater_common.stage(source('flights', 'tickets')) }}
