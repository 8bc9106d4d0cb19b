import sys

from worker_node.node import main

sys.exit(main())
