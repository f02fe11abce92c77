"""Cost allocation, following the OpenCost specification: pure maths, no I/O.

Money is held as integer micro-dollars and every split is a largest-remainder split, so
allocations + idle (+ unabsorbed shared costs) add up to the nodes' cost (+ fixed shared
costs) exactly, for every step of every window.
"""
