{{ headwater_common.stage(source('pacbikes', 'shipmethod')) }}
