"""One district: its records generated from a seed (`generator`) or a scenario file (`scenario`), kept
and changed by `DistrictStore`, served as listings; tenants and their clients (`tenants`).
"""
