{{ headwater_common.stage(source('pacbikes', 'salesorderheader')) }}
