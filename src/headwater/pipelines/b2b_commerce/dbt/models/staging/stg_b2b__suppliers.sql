-- Typed, renamed columns of the raw suppliers table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'suppliers')) }}
