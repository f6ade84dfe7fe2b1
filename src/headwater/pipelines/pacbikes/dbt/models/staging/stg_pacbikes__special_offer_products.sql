{{ headwater_common.stage(source('pacbikes', 'specialofferproduct')) }}
