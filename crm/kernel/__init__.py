"""The kernel: each rule that more than one feature needs, held once.

A feature imports the kernel; the kernel imports no feature. Each module here is small and
starts with a docstring that states its promise.
"""
