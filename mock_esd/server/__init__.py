"""The server: `create_app` wires the rooms below into one Flask app, guarded; it runs on a socket
(`LiveServer`), under gunicorn (`--workers`), or in-process (`routed`).
"""
