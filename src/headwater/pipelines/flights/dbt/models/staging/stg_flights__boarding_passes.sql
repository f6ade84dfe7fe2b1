-- Typed, renamed columns of the raw boarding_passes table; names, types and descriptions are
-- declared in _staging__models.yml.

{{ headwater_common.stage(source('flights', 'boarding_passes')) }}
