"""What a server holds: its configuration (`AppConfig`), its tenants, fault rules and journal (`MockState`),
and how worker processes share them (`changelog`).
"""
