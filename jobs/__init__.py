"""RQ job functions: plain functions taking ids, run by the worker inside an app context."""
