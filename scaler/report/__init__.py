"""`scaler report`: cost allocation over a window, from Prometheus or a simulated cluster."""
