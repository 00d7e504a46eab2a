"""The QA tools, plain Python: fault rules and drift, the request journal and its assertions, and the
control API's client for tests (`ControlClient`).
"""
