-- Typed, renamed columns of the raw leads table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'leads')) }}
