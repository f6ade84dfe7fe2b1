{{ headwater_common.stage(source('pacbikes', 'salesorderheadersalesreason')) }}
