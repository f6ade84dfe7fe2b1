{{ headwater_common.stage(source('pacbikes', 'shoppingcartitem')) }}
