{{ headwater_common.stage(source('pacbikes', 'customer')) }}
