-- Typed, renamed columns of the raw country_codes table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'country_codes')) }}
