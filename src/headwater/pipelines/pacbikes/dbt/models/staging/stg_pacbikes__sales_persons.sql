{{ headwater_common.stage(source('pacbikes', 'salesperson')) }}
