{{ headwater_common.stage(source('pacbikes', 'salespersonquotahistory')) }}
