{{ headwater_common.stage(source('pacbikes', 'product')) }}
