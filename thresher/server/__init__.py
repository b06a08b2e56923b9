"""The thresher server: the SDK's operations over HTTP behind API tokens (``app.py``), run by
``thresher server`` (``main.py``). FastAPI and uvicorn are imported only here."""
