"""The pure core: values and decisions, no I/O.

Layers import downwards only: quantity/resources -> requirements -> model -> scheduling -> plan.
"""
