-- Typed, renamed columns of the raw flights table; names, types and descriptions are
-- declared in _staging__models.yml.

{{ headwater_common.stage(source('flights', 'flights')) }}
