"""The controller as it runs: the control loop, its jobs, leadership and dry-run fencing."""
