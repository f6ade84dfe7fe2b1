{{ headwater_common.stage(source('pacbikes', 'salesreason')) }}
