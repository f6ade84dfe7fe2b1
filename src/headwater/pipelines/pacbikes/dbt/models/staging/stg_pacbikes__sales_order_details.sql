{{ headwater_common.stage(source('pacbikes', 'salesorderdetail')) }}
