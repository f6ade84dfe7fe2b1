{{ headwater_common.stage(source('pacbikes', 'salesterritoryhistory')) }}
