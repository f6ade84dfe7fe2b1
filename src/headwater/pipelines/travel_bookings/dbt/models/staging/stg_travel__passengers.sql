-- Typed, renamed columns of the raw passenger table; names, types and descriptions are
-- declared in _staging__models.yml.

{{ headwater_common.stage(source('travel', 'passenger')) }}
