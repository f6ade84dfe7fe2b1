{{ headwater_common.stage(source('pacbikes', 'specialoffer')) }}
