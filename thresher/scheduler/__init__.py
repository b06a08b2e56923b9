"""Planning, dispatch and output assembly of batch jobs (DESIGN.md section 4)."""
