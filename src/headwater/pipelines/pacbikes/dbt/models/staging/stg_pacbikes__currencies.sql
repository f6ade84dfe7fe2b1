{{ headwater_common.stage(source('pacbikes', 'currency')) }}
