"""Online endpoints: the HTTP front, the deployments' workers, and the process that serves them.

``python -m thresher.server.online`` is the serving process (``service``); ``front`` is its ASGI app,
``dispatch`` a deployment's queue and workers, ``workers`` one worker process, ``catalog`` what the
database says to serve, ``mirror`` the shadow diff, ``metrics`` the Prometheus metrics.
"""
