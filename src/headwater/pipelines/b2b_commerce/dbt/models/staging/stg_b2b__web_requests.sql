-- Typed, renamed columns of the raw access_log table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'access_log')) }}
