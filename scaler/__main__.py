import sys

try:
    from scaler.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: still no traceback
    sys.exit(130)

sys.exit(main())
