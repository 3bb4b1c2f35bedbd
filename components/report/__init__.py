"""The review report: what a reviewer needs to decide whether a model may go near patients.

`build` assembles one JSON-able dict from a run's artifacts; `html` and `markdown` render
that dict, so a report re-rendered later from the stored JSON says exactly the same.
"""
