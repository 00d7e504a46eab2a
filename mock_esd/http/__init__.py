"""The three HTTP surfaces, each thin: the eSD API (`api`), the control API (`control`), the browser pages
(`pages`, `docs`). Each parses a request, asks the state below and renders the answer.
"""
