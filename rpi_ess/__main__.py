import sys

from rpi_ess.cli.main import main

sys.exit(main())
