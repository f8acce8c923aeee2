import sys

from texnet.cli import main

sys.exit(main())
