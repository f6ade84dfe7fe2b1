-- Typed, renamed columns of the raw order_line_item table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'order_line_item')) }}
