"""Building blocks of the HTML reports: page, descriptive statistics, journal tables, figures, map, provenance.

Each module is a library of functions over DataFrames and warehouse connections, so the CLI's
`carbonpanel report` and spec-driven Dagster assets render the same report from the same rows.
Heavy libraries (matplotlib, shapely) are imported inside the functions that draw.
"""
