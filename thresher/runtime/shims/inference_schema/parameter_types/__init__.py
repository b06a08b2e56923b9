"""The parameter types of ``@input_schema`` / ``@output_schema``: standard Python, numpy and pandas samples."""
