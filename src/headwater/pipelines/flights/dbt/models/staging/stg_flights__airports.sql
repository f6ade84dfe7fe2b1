-- Typed, renamed columns of the raw airports table; names, types and descriptions are
-- declared in _staging__models.yml.

{{ headwater_common.stage(source('flights', 'airports')) }}
