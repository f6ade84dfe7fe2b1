{{ headwater_common.stage(source('pacbikes', 'store')) }}
