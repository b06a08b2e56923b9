"""The shim's side that uses thresher: the workspace, the translation of a v1 pipeline into a
``PipelineDef``, and following a submitted pipeline job. Imported only inside the functions that need
it, so that step scripts (which may run without thresher) never import it."""
