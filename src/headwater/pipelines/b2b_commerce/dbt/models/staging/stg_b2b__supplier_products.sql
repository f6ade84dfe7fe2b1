-- Typed, renamed columns of the raw supplier_products table (declared in _staging__models.yml).

{{ headwater_common.stage(source('b2b', 'supplier_products')) }}
