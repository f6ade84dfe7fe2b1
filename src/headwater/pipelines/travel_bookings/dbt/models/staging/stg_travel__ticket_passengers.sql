-- Typed, renamed columns of the raw ticket_passenger table; names, types and descriptions are
-- declared in _staging__models.yml.

{{ headwater_common.stage(source('travel', 'ticket_passenger')) }}
