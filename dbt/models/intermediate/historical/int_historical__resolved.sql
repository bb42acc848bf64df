-- Historical-yearbook cells with city_code, resolved like the City Statistical Yearbook (macro
-- resolve_printed_city_names): 1984 names such as 襄樊 resolve to today's unit through the spellings valid in
-- the data year. A name that resolves to no prefecture-level unit (the early editions also print county-level
-- cities) keeps city_code null with `resolution` saying why; the WARN test on city_code lists those names,
-- and nothing is dropped.
{{ resolve_printed_city_names(ref('stg_historical__city_indicators')) }}
