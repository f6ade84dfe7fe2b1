{{ headwater_common.stage(source('pacbikes', 'employee')) }}
