import sys

from sage_pipelines.cli import main

sys.exit(main())
