{{ headwater_common.stage(source('pacbikes', 'person')) }}
