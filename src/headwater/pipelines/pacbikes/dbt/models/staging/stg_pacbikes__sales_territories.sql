{{ headwater_common.stage(source('pacbikes', 'salesterritory')) }}
