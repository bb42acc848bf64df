"""Great Expectations suites for the warehouse tables, validated on pandas DataFrames."""
