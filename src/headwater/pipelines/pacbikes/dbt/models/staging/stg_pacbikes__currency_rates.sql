{{ headwater_common.stage(source('pacbikes', 'currencyrate')) }}
